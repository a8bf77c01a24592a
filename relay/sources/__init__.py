"""Everything that brings posts in: streams (SSE), polling of tag timelines, RSS."""
