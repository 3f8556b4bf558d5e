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
        "similar_listeners",
        "fits_playlist",
    ] = Field(
        description="similar_listeners: similar songs led by ALS (song_id, the seed);"
        " fits_playlist: a playlist suggestion (song_id, the playlist song it is most like)."
    )
    song_id: str | None = None
    title: str | None = None
    artist_id: str | None = Field(None, description="new_from_artist: the song's artist.")
    artist: str | None = None
    genre: str | None = Field(None, description="new_in_genre: the song's genre.")
    text: str | None = None


class RankedSong(BaseModel):
    """A song in a ranked list, with its score and why it is there."""

    rank: int
    song_id: str
    title: str
    artist_id: str
    artist: str
    genre: str
    duration_s: int
    image_url: str | None
    audio_url: str | None
    score: float
    als_score: float | None = Field(
        None, description="Min-max normalised over the candidates (not on the home page)."
    )
    content_score: float | None = Field(
        None, description="Min-max normalised over the candidates (not on the home page)."
    )
    reason: Reason


class Recommendation(RankedSong):
    position: int = Field(
        description="The item's place in the whole list (its rank); send it with rec_id in"
        " the events of a song played from this list."
    )


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


# --- playlists (webapp.api.playlists) and similar songs (webapp.api.similar) --------------


class Playlist(BaseModel):
    """A listener's playlist; ``name`` and ``description`` exactly as the listener typed
    them: show them as text."""

    id: str = Field(description="A UUID.")
    user_id: str = Field(description="The listener who owns it.")
    name: str
    description: str | None
    public: bool = Field(
        description="Anyone may read a public playlist; only its owner a private one."
    )
    song_count: int
    created_at: str
    updated_at: str


class Playlists(BaseModel):
    """A page of a listener's playlists, newest first."""

    user_id: str
    total: int
    limit: int
    offset: int
    items: list[Playlist]


class PlaylistSong(BaseModel):
    position: int = Field(description="1-based, contiguous.")
    song_id: str
    title: str
    artist_id: str
    artist: str
    genre: str
    duration_s: int
    image_url: str | None
    audio_url: str | None = Field(description="Null for a song taken down since it was added.")
    available: bool = Field(description="False for a song taken down since it was added.")
    added_at: str


class PlaylistSongs(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PlaylistSong]


class PlaylistWithSongs(Playlist):
    songs: PlaylistSongs


class AddedSong(BaseModel):
    song_id: str
    position: int


class AddToPlaylistEvents(BaseModel):
    recorded: bool = Field(
        description="Whether the event log confirmed every add_to_playlist event. False: the"
        " songs were added all the same, but ALS will not learn from the missing events."
    )
    event_ids: list[str] = Field(description="The events the log confirmed.")
    failed: int = Field(description="How many events the log did not confirm.")


class SongsAdded(BaseModel):
    playlist_id: str
    added: list[AddedSong]
    song_count: int
    events: AddToPlaylistEvents


class SimilarSongs(BaseModel):
    song_id: str
    mode: Literal["hybrid", "als_only", "content_only", "trending"]
    degraded: list[Literal["no_active_model"]]
    model_version: int | None
    limit: int
    offset: int
    items: list[RankedSong]


class Suggestion(RankedSong):
    als_score: float = Field(description="Min-max normalised over the candidates.")
    content_score: float = Field(description="Min-max normalised over the candidates.")


class PlaylistSuggestions(BaseModel):
    playlist_id: str
    model_version: int | None
    limit: int
    offset: int
    items: list[Suggestion]


# --- nightly mixes (webapp.api.mixes) ------------------------------------------------------


class MixSong(BaseModel):
    id: str
    title: str
    artist: str
    album: str | None
    genre: str
    duration_s: int
    image_url: str | None
    audio_url: str | None


class Mix(BaseModel):
    position: int = Field(description="1-based, in the order to show.")
    kind: Literal["daily", "discovery"] = Field(
        description="daily: one taste cluster, familiar songs and near neighbours;"
        " discovery: songs the listener never heard."
    )
    title: str
    cover_urls: list[str] = Field(
        description="Image URLs of up to 4 of its songs (distinct artists first), for a"
        " mosaic; empty when its songs have no images."
    )
    songs: list[MixSong]


class ListenerMixes(BaseModel):
    user_id: str
    mix_day: str | None = Field(
        json_schema_extra={"format": "date"},
        description="The day the mixes were built from (null: none for this listener).",
    )
    items: list[Mix]
