"""Experience replay: SQLite storage, priorities (P2Value), index samplers, and the Buffer."""
