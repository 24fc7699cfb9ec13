"""NLU: the reference's pipeline components by their config names, trained and run by Tandem."""

from tandem.nlu.component import NluError
from tandem.nlu.pipeline import DEFAULT_PIPELINE, NluPipeline
from tandem.nlu.registry import COMPONENTS, NON_NLU_COMPONENTS
from tandem.nlu.slash import parse_slash_message

__all__ = [
    "COMPONENTS",
    "DEFAULT_PIPELINE",
    "NON_NLU_COMPONENTS",
    "NluError",
    "NluPipeline",
    "parse_slash_message",
]
