"""Cutting articles into chunks for search: one chunk per Markdown section, long sections split
between paragraphs, and every chunk carries its article's title and its section heading."""

import re
from dataclasses import dataclass

from common.sample_data import Article

MAX_CHUNK_CHARS = 700
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    article_id: str
    position: int  # order within the article, from 0
    heading: str  # the section heading, "" for the text before the first heading
    text: str  # the section's text (without title or heading)

    def search_text(self, title: str) -> str:
        """What is encoded and indexed: title and heading give a short section its topic."""
        return "\n".join(part for part in (title, self.heading, self.text) if part)


def _sections(body: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    in_code = False
    for line in body.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        heading = None if in_code else _HEADING.match(line)
        if heading:
            sections.append((heading.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections]


def _split_paragraphs(text: str, max_chars: int) -> list[str]:
    """Greedy packing of paragraphs up to max_chars; a single paragraph longer than that is cut
    at sentence ends (。. ! ?), and only as a last resort mid-sentence."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        sentences = re.findall(r"[^。．.!?！？\n]*(?:[。．.!?！？]+|\n|$)", paragraph)
        for sentence in filter(None, (s.strip() for s in sentences)):
            while len(sentence) > max_chars:
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars:]
            pieces.append(sentence)
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + 1 + len(piece) <= max_chars:
            packed[-1] = f"{packed[-1]}\n{piece}"
        else:
            packed.append(piece)
    return packed


def chunk_article(article: Article, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """The article's chunks in order. An article always has at least one chunk."""
    chunks: list[Chunk] = []
    for heading, text in _sections(article.body):
        for piece in _split_paragraphs(text, max_chars):
            chunks.append(Chunk(article.id, len(chunks), heading, piece))
    return chunks or [Chunk(article.id, 0, "", article.body.strip())]
