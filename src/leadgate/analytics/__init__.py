"""The read side: set-based queries over the transition log; never loads domain objects."""
