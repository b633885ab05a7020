"""btp: Beam search sampling -> Testing -> Prioritized experience replay for code LLMs."""

__version__ = "0.1.0"
