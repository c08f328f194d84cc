"""Pure sentiment code: text in, scores out. No I/O, no database, nothing of ours imported."""

from sentiment.score import LABELS, Score, Scorer
from sentiment.registry import available_scorers, get_scorer, register_scorer

__all__ = ["LABELS", "Score", "Scorer", "available_scorers", "get_scorer", "register_scorer"]
