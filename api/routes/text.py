"""The Japanese text pipeline as a service: what madoguchi reads in a message."""

from fastapi import APIRouter

from api.auth import requires
from api.deps import SettingsDep
from api.errors import ProblemError
from api.schemas import TextAnalysisRequest, TextAnalysisResponse
from api.service import analyze_text

router = APIRouter(tags=["text"], dependencies=[requires("read")])


@router.post(
    "/text/analyze",
    response_model=TextAnalysisResponse,
    summary="Clean, normalise, tokenise a message and detect its language",
)
def analyze(request: TextAnalysisRequest, settings: SettingsDep) -> TextAnalysisResponse:
    if len(request.text) > settings.max_text_chars:
        raise ProblemError(
            422,
            "text-too-long",
            "Text is too long",
            f"text has {len(request.text)} characters; the limit is {settings.max_text_chars}. "
            "Send the message without attachments pasted in.",
        )
    return analyze_text(request, settings)
