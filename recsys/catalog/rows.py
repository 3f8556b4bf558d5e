"""One catalog row: a song and its artist as an imported file, the admin API or the CLI give
it, declared once as a pydantic model (validation, field-named errors, the API's schema).

Columns (docs/importing.md#catalog):

- required: ``song_id``, ``title``, ``artist_id``, ``artist``, ``genres``, ``duration_s``;
- optional: ``album``, ``release_date``, ``image_url``, ``audio_url``, ``lyrics``, ``mbid``,
  ``isrc``, ``spotify_uri``, ``artist_mbid``. An optional column a row does not have leaves
  the stored value alone (so a catalog file without lyrics never erases lyrics imported
  on their own); one it has but leaves empty clears it.

``genres`` is a list; its first item is the song's ``genre`` (the warehouse keeps one genre
per song), the others are checked and then dropped. Pure: no I/O.

Example
-------
>>> song, errors = validate_row({"song_id": "s1", "title": "Paper Lanterns",
...     "artist_id": "a1", "artist": "The Quiet Ferns", "genres": ["folk", "indie"],
...     "duration_s": 201})
>>> errors, song.genre
([], 'folk')
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from recsys.events import MAX_DURATION_S, MAX_ID_LENGTH, FieldError, Text, field_errors, not_blank

REQUIRED = ("song_id", "title", "artist_id", "artist", "genres", "duration_s")
OPTIONAL = (
    "album", "release_date", "image_url", "audio_url", "lyrics", "mbid", "isrc", "spotify_uri",
    "artist_mbid",
)  # fmt: skip
COLUMNS = REQUIRED + OPTIONAL
MAX_NAME = 300
MAX_GENRES = 20
MAX_URL = 2000
# The longest lyrics kept: far above any song's, far below what the embedding model reads.
MAX_LYRICS = 100_000

_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_SPOTIFY_TRACK = re.compile(r"^spotify:track:[0-9A-Za-z]{22}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _blank_is_none(value):
    """An empty value of an optional column: no value (it clears the stored one)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _whole_seconds(value):
    if isinstance(value, bool):
        raise PydanticCustomError("seconds", "must be a whole number of seconds")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise PydanticCustomError("seconds", "must be a whole number of seconds") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _iso_date(value):
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise PydanticCustomError("iso_date", "must be an ISO date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PydanticCustomError("iso_date", "is not a date of the calendar") from None


def _url(value: str) -> str:
    if any(c.isspace() for c in value) or not (
        value.startswith(("http://", "https://")) or value.startswith("/")
    ):
        raise PydanticCustomError("url", "must be an http(s) URL or a path starting with /")
    return value


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PydanticCustomError("mbid", "must be a MusicBrainz id (a UUID)") from None


def _isrc(value: str) -> str:
    code = value.replace("-", "").upper()
    if not _ISRC.match(code):
        raise PydanticCustomError("isrc", "must be an ISRC: CC-XXX-YY-NNNNN (12 characters)")
    return code


def _spotify_uri(value: str) -> str:
    if not _SPOTIFY_TRACK.match(value):
        raise PydanticCustomError("spotify_uri", "must be spotify:track:<22 letters or digits>")
    return value


def _genres(value):
    """A CSV cell holds the genres separated by ``|``; JSON gives a list."""
    if isinstance(value, str):
        return [g.strip() for g in value.split("|")] if value.strip() else []
    return value


Id = Annotated[Text, StringConstraints(max_length=MAX_ID_LENGTH), AfterValidator(not_blank)]
Name = Annotated[Text, StringConstraints(max_length=MAX_NAME), AfterValidator(not_blank)]
Genre = Annotated[Text, StringConstraints(max_length=100), AfterValidator(not_blank)]


Url = Annotated[Text, StringConstraints(max_length=MAX_URL), AfterValidator(_url)]


def optional_column(kind, *validators):
    """An optional column's type: an empty value is None."""
    return Annotated[kind | None, BeforeValidator(_blank_is_none), *validators]


class CatalogSong(BaseModel):
    """One song of the catalog with its artist."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="CatalogSong")

    song_id: Id = Field(description="The catalog's stable id of the song (any string).")
    title: Name
    artist_id: Id = Field(description="The catalog's stable id of the artist (any string).")
    artist: Name = Field(description="The artist's name.")
    genres: Annotated[
        list[Genre],
        BeforeValidator(_genres),
        Field(min_length=1, max_length=MAX_GENRES, description="The first is the song's genre."),
    ]
    duration_s: Annotated[int, BeforeValidator(_whole_seconds), Field(ge=1, le=MAX_DURATION_S)]
    album: optional_column(Annotated[Text, StringConstraints(max_length=MAX_NAME)]) = None
    release_date: optional_column(Annotated[date, BeforeValidator(_iso_date)]) = None
    image_url: optional_column(Url) = None
    audio_url: optional_column(Url) = None
    lyrics: optional_column(Annotated[Text, StringConstraints(max_length=MAX_LYRICS)]) = None
    mbid: optional_column(Annotated[Text, AfterValidator(_uuid)]) = Field(
        None, description="MusicBrainz recording id."
    )
    isrc: optional_column(Annotated[Text, AfterValidator(_isrc)]) = None
    spotify_uri: optional_column(Annotated[Text, AfterValidator(_spotify_uri)]) = None
    artist_mbid: optional_column(Annotated[Text, AfterValidator(_uuid)]) = Field(
        None, description="MusicBrainz artist id."
    )

    WORDING: ClassVar[dict[tuple[str, str], str]] = {
        ("duration_s", "greater_than_equal"): "must be a positive number of seconds",
        ("duration_s", "less_than_equal"): f"must be at most {MAX_DURATION_S} seconds",
        ("duration_s", "int_type"): "must be a whole number of seconds",
        ("duration_s", "int_from_float"): "must be a whole number of seconds",
        ("genres", "too_short"): "must name at least one genre",
        ("genres", "list_type"): "must be a list of genres (in CSV: separated by |)",
    }

    @property
    def genre(self) -> str:
        return self.genres[0]

    @property
    def given(self) -> list[str]:
        """The optional columns this row has (the others leave the stored values alone)."""
        return [name for name in OPTIONAL if name in self.model_fields_set]


def validate_row(raw) -> tuple[CatalogSong | None, list[FieldError]]:
    """``raw`` (a dict of column -> value) as a CatalogSong, or the errors naming each field."""
    try:
        return CatalogSong.model_validate(raw), []
    except ValidationError as err:
        return None, field_errors(err, "row", CatalogSong.WORDING)
