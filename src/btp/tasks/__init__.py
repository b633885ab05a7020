"""Tasks: the normalized task model and loaders per benchmark."""

from btp.tasks.types import AssertTest, CallTest, StdioTest, Task, Test, test_from_json

__all__ = ["AssertTest", "CallTest", "StdioTest", "Task", "Test", "test_from_json"]
