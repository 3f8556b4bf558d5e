"""The words and shares a demo world is drawn from: genres, moods, names, lyrics, countries, hours.

Pure constants, read by ``recsysctl.demo.world`` (names, titles, lyrics, song lengths, countries)
and ``recsysctl.demo.history`` (session start hours). Reads and writes nothing.
"""

from __future__ import annotations

import numpy as np


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GENRES = _words("rock pop hip-hop jazz classical electronic country metal folk r&b")
# Share of artists per genre, and the prior of listeners' tastes.
GENRE_SHARE = np.array([0.16, 0.18, 0.16, 0.06, 0.05, 0.11, 0.08, 0.06, 0.06, 0.08])
MOODS = _words("happy sad angry calm romantic nostalgic")
# Some genres lean to a mood, so mood and genre are related as in real catalogs.
GENRE_MOOD = {
    "metal": "angry",
    "classical": "calm",
    "r&b": "romantic",
    "pop": "happy",
    "folk": "nostalgic",
    "country": "nostalgic",
    "jazz": "calm",
}

GENRE_WORDS = {
    "rock": _words(
        "guitar highway thunder rebel engine amplifier riot garage stone fire road wild "
        "loud electric leather drum rumble freedom outlaw storm"
    ),
    "pop": _words(
        "dance baby party glitter tonight radio sugar candy mirror spotlight glow summer "
        "crush phone selfie bubble pink star crowd confetti"
    ),
    "hip-hop": _words(
        "block hustle crew rhyme cipher corner mic flow beat street money hood grind "
        "boss chain hustler verse spit rep concrete"
    ),
    "jazz": _words(
        "saxophone smoke speakeasy midnight club trumpet blue swing bourbon cigarette lounge "
        "piano upright brush improvise cool note avenue martini bebop"
    ),
    "classical": _words(
        "sonata symphony cathedral violin aria requiem overture prelude harp cello "
        "chorus organ marble candle hymn palace opus nocturne adagio chapel"
    ),
    "electronic": _words(
        "synth pulse laser neon circuit signal bassline strobe machine digital wave "
        "voltage grid loop frequency sequence drop rave orbit code"
    ),
    "country": _words(
        "truck whiskey porch dirt barn cowboy river boots tractor fence prairie rodeo "
        "pickup dusty creek harvest farm saddle honky hometown"
    ),
    "metal": _words(
        "blood iron steel abyss doom skull chaos throne demon inferno darkness battle "
        "black blade venom grave hammer serpent ash wrath"
    ),
    "folk": _words(
        "meadow fiddle lantern willow orchard cabin mountain valley wanderer ballad banjo "
        "oak spring sparrow hearth cradle pine barley tale acoustic"
    ),
    "r&b": _words(
        "silk groove velvet slow body touch honey smooth bedroom soul caramel satin rhythm "
        "whisper lover vibe candlelight falsetto tender sway"
    ),
}
MOOD_WORDS = {
    "happy": _words(
        "sunshine smile laugh bright golden shine joy celebrate alive wonderful lucky "
        "sweet high dancing"
    ),
    "sad": _words(
        "tears alone goodbye cold empty broken gone lonely grey miss cry fading lost sorrow"
    ),
    "angry": _words(
        "rage burn scream fight hate break fury destroy enemy revenge shout bitter pain fist"
    ),
    "calm": _words(
        "quiet still breathe gentle ocean peace drift soft float easy breeze dawn hush rest"
    ),
    "romantic": _words(
        "love darling forever hold embrace desire yours sweetheart moonlight together "
        "beautiful adore kiss devotion"
    ),
    "nostalgic": _words(
        "remember yesterday old photograph childhood memory back again years letter "
        "faded once younger used"
    ),
}
COMMON_WORDS = _words(
    "i you we me my your the a and in on of to with all oh yeah night day time way "
    "know feel never go come now just like this that"
)
FIRST_NAMES = _words(
    "Ada Ben Cleo Dario Elena Finn Greta Hugo Iris Jonas Kira Leo Maya Nico Olga "
    "Pablo Quinn Rosa Sami Tara Umar Vera Wes Yuki Zane Amara Bo Cato Dina Emil"
)
LAST_NAMES = _words(
    "Abbott Baker Castillo Dumont Ellis Fischer Garcia Hayes Ito Jensen Kowalski Larsen "
    "Moreau Novak Okafor Petrov Rossi Silva Tanaka Vance Weber Xu Young Zimmer"
)
ADJECTIVES = _words(
    "Electric Silent Golden Broken Velvet Midnight Crimson Hollow Lucky Wild Neon Paper "
    "Iron Crystal Lonely Burning Frozen Hidden Restless Secret"
)
NOUNS = _words(
    "Wolves Pilots Echoes Rivers Foxes Satellites Ghosts Kings Sparrows Machines Lanterns "
    "Tigers Dreamers Strangers Mirrors Comets Shadows Saints Giants Oceans"
)
ARTIST_NAME_STYLES = {
    "any": ("{first} {last}", "The {adj} {noun}"),
    "jazz": ("{first} {last} Quartet", "{first} {last} Trio"),
    "classical": ("{last} Ensemble", "{first} {last}", "{last} Chamber Orchestra"),
    "hip-hop": ("Lil {first}", "MC {noun}", "{adj} {first}"),
    "electronic": ("DJ {first}", "{adj}{noun}"),
    "country": ("{first} {last} & the {noun}",),
    "metal": ("{adj} {noun}", "{noun} of {adj} {noun}"),
}
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "MX", "JP", "KR", "IN", "SE", "NG", "CA", "AU", "ES")
COUNTRY_SHARE = np.array([24, 9, 8, 6, 9, 5, 6, 4, 8, 3, 4, 4, 4, 6]) / 100
# Mean and spread of song length in seconds, per genre (same order as GENRES).
DURATION_MEAN_SD = (
    (230, 50),
    (205, 35),
    (215, 45),
    (320, 90),
    (380, 120),
    (280, 80),
    (210, 35),
    (290, 80),
    (225, 50),
    (230, 40),
)
# When sessions start (UTC hour): commute, lunch and, most of all, evenings.
HOUR_SHARE = np.array([2, 1, 1, 1, 1, 1, 2, 4, 6, 5, 4, 4, 5, 5, 4, 4, 5, 7, 8, 9, 9, 8, 6, 4])
HOUR_SHARE = HOUR_SHARE / HOUR_SHARE.sum()
