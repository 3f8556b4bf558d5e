"""The API's answers as models, for the OpenAPI document only: the services build these
bodies as dicts and nothing validates them on the way out (it would cost on every request).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    field: str
    reason: str


class Error(BaseModel):
    """Every error the API answers (webapp.errors), naming the fields at fault."""

    error: str
    message: str
    errors: list[FieldProblem] = []
    check: str | None = Field(
        None,
        description="Which check a bearer token failed (401 only): missing, malformed,"
        " algorithm, issuer, unknown_key, signature, expired, not_yet_valid, audience, claims.",
    )
    request_id: str | None = Field(
        None, description="The answer's X-Request-ID, to quote when reporting it."
    )


class Song(BaseModel):
    id: str
    title: str
    artist_id: str
    artist: str
    album: str | None
    genre: str
    duration_s: int
    release_date: str | None = Field(json_schema_extra={"format": "date"})
    image_url: str | None
    audio_url: str | None
    plays_7d: int


class ScoredSong(Song):
    score: float


class Artist(BaseModel):
    id: str
    name: str
    genre: str | None
    score: float


class SearchAnswer(BaseModel):
    q: str
    songs: list[ScoredSong]
    artists: list[Artist]


class User(BaseModel):
    id: str
    display_name: str
    onboarding_genres: list[str]


class Users(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[User]


class Reason(BaseModel):
    kind: Literal[
        "because_you_listened",
        "similar_lyrics",
        "trending",
        "taste",
        "new_from_artist",
        "new_in_genre",
        "random",
    ]
    song_id: str | None = None
    title: str | None = None
    artist_id: str | None = Field(None, description="new_from_artist: the song's artist.")
    artist: str | None = None
    genre: str | None = Field(None, description="new_in_genre: the song's genre.")
    text: str | None = None


class Recommendation(BaseModel):
    rank: int
    position: int = Field(
        description="The item's place in the whole list (its rank); send it with rec_id in"
        " the events of a song played from this list."
    )
    song_id: str
    title: str
    artist_id: str
    artist: str
    genre: str
    duration_s: int
    image_url: str | None
    audio_url: str | None
    score: float
    als_score: float | None = Field(None, description="Next songs only; min-max normalised.")
    content_score: float | None = Field(None, description="Next songs only; min-max normalised.")
    reason: Reason


class ExperimentArm(BaseModel):
    name: str = Field(description="The running experiment of the surface.")
    arm: str = Field(description="The listener's arm in it (always the same for a listener).")


class Recommendations(BaseModel):
    rec_id: str = Field(
        description="This answer's id (a UUID), recorded with its songs as an impression."
    )
    user_id: str
    song_id: str | None = Field(None, description="Next songs only.")
    mode: Literal[
        "session",
        "long_term",
        "short_term",
        "trending",
        "hybrid",
        "als_only",
        "content_only",
        "random",
    ] = Field(description="random: an experiment's random arm.")
    degraded: list[
        Literal["sessions_unavailable", "no_active_model", "experiment_arm_unavailable"]
    ] = Field(
        description="experiment_arm_unavailable: the arm's model version is gone (dropped by"
        " hand); served from the active model."
    )
    model_version: int | None
    experiment: ExperimentArm | None = Field(
        description="The listener's arm when an experiment runs on this surface, else null."
    )
    limit: int
    offset: int
    items: list[Recommendation]


class EventAccepted(BaseModel):
    status: Literal["accepted"]
    event_id: str
    queue_stale: bool | None = Field(
        None,
        description="The player should refresh Up Next (two quick skips). Absent when"
        " sessions are unavailable.",
    )


class EventOutcome(BaseModel):
    index: int
    status: Literal["accepted", "rejected", "failed"]
    event_id: str | None = None
    errors: list[FieldProblem] = []


class BatchAnswer(BaseModel):
    """Each event's outcome by its index in the batch; ``error`` and ``message`` when no
    event was accepted."""

    accepted: int
    rejected: int
    failed: int
    results: list[EventOutcome]
    error: str | None = None
    message: str | None = None


class FeedbackSong(BaseModel):
    song_id: str
    title: str
    artist: str
    at: str = Field(description="When the listener said it (the event's time, ISO 8601).")


class FeedbackSongs(BaseModel):
    """A page of the songs a listener likes (or dislikes), newest first."""

    user_id: str
    kind: Literal["like", "dislike"]
    total: int
    limit: int
    offset: int
    items: list[FeedbackSong]
