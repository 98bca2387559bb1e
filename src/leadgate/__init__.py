"""leadgate: an open-source lead qualification engine."""

__version__ = "0.1.0"
