"""NLU: the reference's pipeline components by their config names, trained and run by Tandem."""

from tandem.nlu.component import NluError
from tandem.nlu.pipeline import DEFAULT_PIPELINE, NluPipeline
from tandem.nlu.registry import COMPONENTS
from tandem.nlu.slash import parse_slash_message

__all__ = [
    "COMPONENTS",
    "DEFAULT_PIPELINE",
    "NluError",
    "NluPipeline",
    "parse_slash_message",
]
