"""Answer suggestion: free text in, the articles that answer it out, with a calibrated
confidence and the decision to answer automatically or hand the customer to a person."""

from dataclasses import dataclass, field

from common.text import clean_email, detect_language
from retrieval.decision import FEATURE_HITS, decision_features
from retrieval.index import KnowledgeIndex
from retrieval.search import SearchFilters, snippet


class UnknownFilterValueError(ValueError):
    """A filter names a value the knowledge base does not have; the message lists known ones."""


@dataclass
class SuggestedArticle:
    id: str
    title: str
    url: str
    category: str
    snippet: str  # HTML-escaped, matched words in <mark>
    matched_terms: list[str]
    score: float


@dataclass
class Suggestion:
    decision: str  # answer | handoff
    reason: str
    confidence: float
    language: str
    cleaned_text: str
    articles: list[SuggestedArticle] = field(default_factory=list)


class SuggestionService:
    def __init__(self, index: KnowledgeIndex, language_min_confidence: float = 0.4) -> None:
        self.index = index
        self.language_min_confidence = language_min_confidence

    def check_filters(self, filters: SearchFilters) -> None:
        known = {facets.category for facets in self.index.searcher.articles.values()}
        unknown = sorted(filters.categories - known)
        if unknown:
            raise UnknownFilterValueError(
                f"unknown category {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )

    def suggest(
        self,
        text: str,
        top_k: int = 5,
        language: str | None = None,
        filters: SearchFilters | None = None,
    ) -> Suggestion:
        if filters:
            self.check_filters(filters)
        self.index.catch_up()
        cleaned = clean_email(text).text or text.strip()
        language = (
            language
            or detect_language(cleaned, min_confidence=self.language_min_confidence).language
        )
        searcher = self.index.searcher
        result = searcher.search(cleaned, top_k=max(top_k, FEATURE_HITS), filters=filters)
        decision = self.index.decision
        confidence = decision.confidence(decision_features(result, searcher.matched_share(result)))
        verdict, reason = decision.decide(confidence, has_results=bool(result.hits))
        articles = []
        for hit in result.hits[:top_k]:
            facets = searcher.articles[hit.article_id]
            chunk = searcher.chunks.get(hit.best_chunk_id)
            marked, matched = snippet(chunk, result.query_terms) if chunk else ("", [])
            articles.append(
                SuggestedArticle(
                    facets.id,
                    facets.title,
                    facets.url,
                    facets.category,
                    marked,
                    matched,
                    round(hit.score, 4),
                )
            )
        return Suggestion(verdict, reason, round(confidence, 4), language, cleaned, articles)
