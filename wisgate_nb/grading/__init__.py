"""Prompt experiments: images graded by a vision model against a rubric, and prompts compared by numbers."""
