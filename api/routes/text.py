"""The Japanese text pipeline as a service: what madoguchi reads in a message."""

from fastapi import APIRouter

from api.auth import requires
from api.deps import SettingsDep
from api.errors import ProblemError
from api.schemas import MaskRequest, MaskResponse, TextAnalysisRequest, TextAnalysisResponse
from api.service import analyze_text, mask_text

router = APIRouter(tags=["text"], dependencies=[requires("read")])


@router.post(
    "/text/analyze",
    response_model=TextAnalysisResponse,
    summary="Clean, normalise, tokenise a message and detect its language",
)
def analyze(request: TextAnalysisRequest, settings: SettingsDep) -> TextAnalysisResponse:
    _refuse_long(request.text, settings.max_text_chars)
    return analyze_text(request, settings)


@router.post(
    "/mask",
    response_model=MaskResponse,
    summary="Mask personal data: phone numbers, e-mail, addresses, マイナンバー, cards, names",
)
def mask(request: MaskRequest, settings: SettingsDep) -> MaskResponse:
    _refuse_long(request.text, settings.max_text_chars)
    return mask_text(request, settings)


def _refuse_long(text: str, limit: int) -> None:
    if len(text) > limit:
        raise ProblemError(
            422,
            "text-too-long",
            "Text is too long",
            f"text has {len(text)} characters; the limit is {limit}. "
            "Send the message without attachments pasted in.",
        )
