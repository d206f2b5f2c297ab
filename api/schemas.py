"""Request and response bodies of the HTTP API."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class ComponentStatus(BaseModel):
    name: str
    ready: bool
    version: str | None = None
    detail: str | None = None


class Readiness(BaseModel):
    status: str = Field(description="ready, or not_ready when a component failed to load")
    version: str
    components: list[ComponentStatus]


class LabelValueOut(BaseModel):
    value: str
    display_name: str
    description: str


class LabelFieldOut(BaseModel):
    field: str
    display_name: str
    values: list[LabelValueOut]


class LabelsOut(BaseModel):
    version: int
    fingerprint: str
    fields: list[LabelFieldOut]


class TextAnalysisRequest(StrictModel):
    text: str = Field(
        min_length=1,
        description="A ticket, chat message or e-mail, as received (plain text or HTML).",
        examples=["ﾛｸﾞｲﾝできません。SSOでE-4010が出ます\n\n--\n山田 太郎\nTEL 03-1234-5678"],
    )
    html: bool | None = Field(None, description="true/false, or leave out to detect HTML.")
    strip_email: bool = Field(
        True, description="Remove quoted replies, earlier messages and the signature."
    )


class LanguageOut(BaseModel):
    code: str = Field(description="ja, en, zh, ko or other")
    confidence: float


class RemovedPart(BaseModel):
    kind: str = Field(description="earlier_message, quoted_reply, mobile_footer or signature")
    text: str


class TokenOut(BaseModel):
    surface: str
    lemma: str
    pos: str
    content_word: bool


class TextAnalysisResponse(BaseModel):
    language: LanguageOut
    normalized: str = Field(description="The whole input after careful NFKC normalisation.")
    cleaned: str = Field(description="The sender's own words only.")
    removed: list[RemovedPart]
    tokens: list[TokenOut]
    content_words: list[str]


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    category: str
    tags: list[str]
    language: str
    url: str
    updated_at: datetime


class ArticleList(BaseModel):
    total: int
    articles: list[ArticleOut]
