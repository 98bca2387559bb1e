"""Tracking payloads: Segment's HTTP API (also RudderStack's) and PostHog's capture API,
parsed into leadgate's calls."""
