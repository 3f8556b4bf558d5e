"""Similar songs and song radio: the next-song recommender (webapp.services.recs) seeded by
one song, with no listener or with one.

- Similar songs: the song's nearest songs by its ALS item vector and its lyrics vector,
  merged and blended exactly as next songs are (``0.6 norm(als) + 0.4 norm(content)``),
  songs taken down left out, artists capped per page. A song with neither vector gets the
  trending songs of its genre. Each has a reason: ``similar_listeners`` (ALS led) or
  ``similar_lyrics``.
- Song radio: the seed's next songs for a listener (their recent plays, skips included, and
  their disliked songs left out, as in next songs), steered by the listener's session: the
  newest song they heard long enough to count (a qualifying play) adds its own next songs,
  ``score = (1 - w) * seed + w * session`` (``radio_session_weight``, 0.3). So each
  refill comes from the seed and what the listener kept listening to; a skipped song never
  comes back and never steers. Both reads are the recommender's next songs, so the
  listener's arm of a running up_next experiment serves the radio too.

Reads what next songs read (catalog, the active model, the lyrics embeddings, the session).
"""

from __future__ import annotations

from webapp.services.recs import Answer, Ranked, Recommender, UnknownSong, _best_first

SIMILAR_TEXT = "Listeners of {title} play it too"


def similar_reasons(items: list[dict]) -> list[dict]:
    """A page of similar songs with their reasons in words about the song, not a
    listener ("because you listened to" becomes "listeners of ... play it too")."""
    for item in items:
        reason = item["reason"]
        if reason["kind"] == "because_you_listened":
            reason["kind"] = "similar_listeners"
            reason["text"] = SIMILAR_TEXT.format(title=reason["title"])
    return items


def radio(recommender: Recommender, conn, user_id: str, seed: str) -> Answer:
    """The next songs of a radio seeded by ``seed``, for ``user_id`` (see the module): the
    recommender's next songs of the seed, blended with its next songs of the listener's
    newest qualifying play when there is one (and both were read from one model)."""
    answer = recommender.next_songs(conn, user_id, seed)
    session = recommender._session(user_id, [])
    steer = next((song for song in session.heard if song != seed), None)
    if steer is None or answer.mode == "random":
        return answer
    try:
        steered = recommender.next_songs(conn, user_id, steer)
    except UnknownSong:  # gone from the catalog since it was heard
        return answer
    if steered.mode in ("trending", "random") or steered.model_version != answer.model_version:
        return answer
    ranked = [r for r in steered.ranked if r.song_id != seed]
    if answer.mode == "trending":  # the seed has no vector: the session leads
        answer.mode, answer.ranked = steered.mode, ranked
    else:
        answer.ranked = blend(answer.ranked, ranked, recommender.settings.radio_session_weight)
    return answer


def blend(seed: list[Ranked], session: list[Ranked], session_weight: float) -> list[Ranked]:
    """Both lists' candidates scored ``(1 - w) * seed + w * session`` (a candidate absent
    from one list scores 0 there), best first; each keeps the reason of the list that
    gives it more."""
    by_seed = {r.song_id: r for r in seed}
    by_session = {r.song_id: r for r in session}
    merged = []
    for song in by_seed.keys() | by_session.keys():
        a, b = by_seed.get(song), by_session.get(song)
        from_seed = (1 - session_weight) * a.score if a else 0.0
        from_session = session_weight * b.score if b else 0.0
        leader = a if from_seed >= from_session else b
        merged.append(Ranked(song, from_seed + from_session, leader.reason, leader.extra))
    merged.sort(key=_best_first)
    return merged
