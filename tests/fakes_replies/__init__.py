"""Local servers that answer as the platforms do when the brand posts a reply."""
