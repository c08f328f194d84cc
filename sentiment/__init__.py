"""Pure sentiment code: text in, scores out. No I/O, no database, nothing of ours imported."""

from sentiment.registry import available_scorers, get_scorer, register_scorer
from sentiment.score import LABELS, Score, Scorer

__all__ = ["LABELS", "Score", "Scorer", "available_scorers", "get_scorer", "register_scorer"]
