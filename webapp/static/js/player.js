// The player panel: now playing, Up Next, and the listening events it sends.
//
// A song with an audio_url plays in the <audio> element. The demo catalogue has no audio, so
// otherwise a simulated clock advances `clock speed` song seconds per real second. Either way
// the events carry the song seconds actually heard:
//   listen   once per playback, when play_min_seconds have been heard (a play, for the session)
//   complete at the end (then the next song of Up Next starts)
//   skip     when the listener skips or picks another song (the seconds heard so far)
// and each playback ends with exactly one of complete or skip. All the events of a playback
// carry its playback_id, so the server counts the listen and the complete as one play.
// The ♡ sends like / unlike and "Not for me" a dislike (then skips): both kept by the server
// for the listener, so their likes show in any browser, and a disliked song never comes back.
//
// Up Next comes from one source at a time (`this.source`):
//   null    the next songs of the playing song (GET /recs/<user>/<song>), surface up_next
//   radio   a song radio (GET /recs/<user>/radio/<seed>), asked again after each song so the
//           listener's plays and skips steer it, surface radio; until the listener picks
//           another song
//   list    a playlist or a mix played in its order (surface playlist or mix, position its
//           place there); when it runs out, next songs again

import { byTestId, el, formatTime, getJSON, postJSON, reasonOf, showError } from "./api.js";

const UP_NEXT_SIZE = 5;
const REFILL_BELOW = 3;
const TICK_MS = 200;
const LIKES_PAGE = 100;
const UP_NEXT_SHOWN = 20; // a long playlist's queue shows its first songs and a count

// A random (version 4) UUID; crypto.randomUUID exists only on https and localhost pages.
function newPlaybackId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// A song to play; ``from`` says which list it was played from (surface, the recommendation
// answer's rec_id, its position there), sent with each of its events.
function songOf(item, from = item.from) {
  return {
    id: item.song_id ?? item.id,
    title: item.title,
    artist: item.artist,
    duration_s: item.duration_s,
    audio_url: item.audio_url || null,
    from: from || {},
  };
}

export class Player {
  constructor(root, { onPlayed, onChange }) {
    this.root = root;
    this.onPlayed = onPlayed;
    this.onChange = onChange || (() => {});
    this.source = null;
    this.clockSpeed = Number(root.dataset.clockSpeed) || 1;
    this.playMinSeconds = Number(root.dataset.playMinSeconds) || 30;
    this.userId = null;
    this.playback = null;
    this.queue = [];
    this.played = new Set();
    this.queueRequest = 0;
    this.queueMode = null;
    this.refills = 0;
    this.completed = 0;
    this.likes = new Set();
    this.likesFor = null;
    this.ui = {
      title: byTestId("now-title", root),
      artist: byTestId("now-artist", root),
      progress: byTestId("progress", root),
      fill: root.querySelector(".progress-fill"),
      elapsed: byTestId("elapsed", root),
      total: byTestId("total", root),
      playPause: byTestId("play-pause", root),
      skip: byTestId("skip", root),
      like: byTestId("like", root),
      dislike: byTestId("dislike", root),
      radio: byTestId("radio", root),
      error: byTestId("player-error", root),
      upNext: byTestId("up-next", root),
      upNextMode: byTestId("up-next-mode", root),
      history: byTestId("history", root),
      audio: byTestId("audio", root),
    };
    this.ui.playPause.addEventListener("click", () => this.togglePause());
    this.ui.skip.addEventListener("click", () => this.skip());
    this.ui.like.addEventListener("click", () => this.toggleLike());
    this.ui.dislike.addEventListener("click", () => this.dislike());
    this.ui.radio.addEventListener("click", () => this.startRadio());
    this.ui.audio.addEventListener("timeupdate", () => this.audioProgress());
    this.ui.audio.addEventListener("ended", () => {
      this.audioProgress(); // the last stretch before the end
      this.finish("complete");
    });
    this.ui.audio.addEventListener("error", () => this.audioFailed());
    setInterval(() => this.tick(), TICK_MS);
    this.render();
  }

  // A new listener: the old one's playback ends as a skip, and the session starts afresh.
  setUser(userId) {
    if (userId === this.userId) return;
    this.stop();
    this.userId = userId;
    this.playback = null;
    this.queue = [];
    this.source = null;
    this.played = new Set();
    this.likes = new Set();
    this.likesFor = null;
    this.ui.history.replaceChildren();
    this.renderQueue();
    this.render();
    if (userId) this.loadLikes(userId);
  }

  // The listener's likes, as the server keeps them (every page).
  async loadLikes(userId) {
    const likes = new Set();
    try {
      for (let offset = 0; ; offset += LIKES_PAGE) {
        const path = `/users/${encodeURIComponent(userId)}/likes?limit=${LIKES_PAGE}&offset=${offset}`;
        const page = await getJSON(path);
        page.items.forEach((item) => likes.add(item.song_id));
        if (page.items.length < LIKES_PAGE || offset + LIKES_PAGE >= page.total) break;
      }
    } catch (err) {
      showError(this.ui.error, err);
      return;
    }
    if (userId !== this.userId) return; // another listener was picked meanwhile
    this.likes = likes;
    this.likesFor = userId;
    this.render();
  }

  // The listener picked a song (a recommendation, trending or search result); ``item.from``
  // names the list.
  // Up Next goes back to the next songs of what plays (a radio or a list ends here).
  async pick(item) {
    const song = await this.songToPlay(item);
    if (!song) return;
    this.stop();
    this.source = null;
    this.start(song);
    await this.fillQueue("replace");
  }

  // The song of ``item`` ready to play (its details asked for when the item has no
  // duration), or null with the error shown.
  async songToPlay(item) {
    if (!this.userId) {
      showError(this.ui.error, "Pick a listener first.");
      return null;
    }
    const song = songOf(item);
    if (song.duration_s) return song;
    try {
      return songOf(await getJSON(`/songs/${encodeURIComponent(song.id)}`), song.from);
    } catch (err) {
      showError(this.ui.error, err);
      return null;
    }
  }

  // A radio from ``item`` (a song row), or from the playing song when none is given: the
  // seed plays (it goes on if it is playing already) and Up Next comes from the radio.
  async startRadio(item) {
    const playing = this.playback && !this.playback.ended ? this.playback.song : null;
    const seed = item ? await this.songToPlay(item) : playing;
    if (!seed) return;
    this.source = { kind: "radio", seed: seed.id, label: `radio from ${seed.title}` };
    if (!playing || playing.id !== seed.id) {
      this.stop();
      this.start(seed);
    }
    this.queue = [];
    await this.fillQueue("replace");
  }

  // Plays a list (a playlist or a mix) in its order from its first item: each item carries
  // its ``from`` (surface and position); ``label`` names the list above Up Next.
  playList(items, { kind, label }) {
    if (!this.userId) {
      showError(this.ui.error, "Pick a listener first.");
      return;
    }
    const songs = items.map((item) => ({ ...item, song_id: item.song_id ?? item.id }));
    if (songs.length === 0) return;
    this.stop();
    this.queueRequest += 1; // an answer on its way for the old source is dropped
    this.source = { kind: "list", list: kind, label };
    this.queue = songs.slice(1);
    this.start(songOf(songs[0]));
  }

  start(song) {
    showError(this.ui.error, null);
    this.playback = {
      song,
      // the events of one playback share it, so the 30-s listen and the complete are one play
      id: newPlaybackId(),
      heard: 0,
      position: 0,
      listenSent: false,
      ended: false,
      paused: false,
      audio: Boolean(song.audio_url),
      lastTick: performance.now(),
      lastAudioTime: 0,
    };
    this.played.add(song.id);
    this.queue = this.queue.filter((item) => item.song_id !== song.id);
    const audio = this.ui.audio;
    if (this.playback.audio) {
      audio.src = song.audio_url;
      audio.play().catch(() => this.audioFailed());
    } else {
      audio.removeAttribute("src");
    }
    this.render();
    this.renderQueue();
  }

  // Ends the current playback, if any, as a skip with the seconds heard so far.
  stop() {
    if (this.playback && !this.playback.ended) this.finish("skip", { advance: false });
  }

  togglePause() {
    const playback = this.playback;
    if (!playback || playback.ended) return;
    playback.paused = !playback.paused;
    playback.lastTick = performance.now();
    if (playback.audio) {
      if (playback.paused) this.ui.audio.pause();
      else this.ui.audio.play().catch(() => this.audioFailed());
    }
    this.render();
  }

  skip() {
    if (this.playback && !this.playback.ended) this.finish("skip");
  }

  tick() {
    const playback = this.playback;
    const now = performance.now();
    if (!playback || playback.ended || playback.paused || playback.audio) {
      if (playback) playback.lastTick = now;
      return;
    }
    // A throttled background tab must not jump a whole song at once.
    const realSeconds = Math.min((now - playback.lastTick) / 1000, 1);
    playback.lastTick = now;
    this.advance(playback, realSeconds * this.clockSpeed);
  }

  audioProgress() {
    const playback = this.playback;
    if (!playback || !playback.audio || playback.ended) return;
    const time = this.ui.audio.currentTime;
    const delta = time - playback.lastAudioTime;
    playback.lastAudioTime = time;
    // Only continuous playback counts as heard; a seek moves the position, not the total.
    this.advance(playback, delta > 0 && delta < 2 ? delta : 0, time);
  }

  audioFailed() {
    const playback = this.playback;
    if (!playback || !playback.audio || playback.ended) return;
    playback.audio = false;
    playback.lastTick = performance.now();
    this.ui.error.textContent = "The audio cannot play here; using the simulated clock.";
  }

  advance(playback, songSeconds, position) {
    const total = playback.song.duration_s;
    playback.heard = Math.min(playback.heard + songSeconds, total);
    playback.position = Math.min(position ?? playback.position + songSeconds, total);
    if (!playback.listenSent && playback.heard >= Math.min(this.playMinSeconds, total)) {
      playback.listenSent = true;
      this.send(playback, "listen").then((answer) => answer && this.onPlayed());
    }
    if (playback.position >= total && !playback.audio) this.finish("complete");
    else this.renderProgress();
  }

  finish(action, { advance = true } = {}) {
    const playback = this.playback;
    if (!playback || playback.ended) return;
    playback.ended = true;
    if (playback.audio) this.ui.audio.pause();
    if (action === "complete") this.completed += 1;
    this.addToHistory(playback, action);
    const sent = this.send(playback, action);
    sent.then((answer) => {
      if (!answer) return;
      if (action === "complete") this.onPlayed();
      if (answer.queue_stale) this.fillQueue("replace");
    });
    if (advance) this.next();
    else this.render();
  }

  async next() {
    if (this.queue.length === 0) await this.fillQueue("replace");
    const item = this.queue.shift();
    if (!item) {
      this.render();
      return;
    }
    this.start(songOf(item));
    // a radio is asked again after each song, so what the listener did steers it
    if (this.source && this.source.kind === "radio") await this.fillQueue("replace");
    else if (this.queue.length < REFILL_BELOW) await this.fillQueue("extend");
  }

  // A listening event of the playback; a like, unlike or dislike is about the song, so it
  // carries no playback_id.
  async send(playback, action) {
    const song = playback.song;
    const heard = Math.floor(playback.heard);
    const word = ["like", "unlike", "dislike"].includes(action);
    try {
      return await postJSON("/logs/event", {
        user_id: this.userId,
        track_id: song.id,
        timestamp: Date.now(),
        action,
        duration: Math.min(heard, song.duration_s),
        total_duration: song.duration_s,
        playback_id: word ? undefined : playback.id,
        rec_id: song.from.rec_id,
        surface: song.from.surface,
        position: song.from.position,
      });
    } catch (err) {
      showError(this.ui.error, err);
      return null;
    }
  }

  // Up Next from the next-song recommendations for what is playing now: "replace" starts it
  // afresh (a new pick, or the server said the queue went stale), "extend" tops it up.
  // A radio asks its seed's radio instead; a list keeps its order (even when the server
  // says the queue went stale) until it runs out.
  async fillQueue(how) {
    const playback = this.playback;
    if (!this.userId || !playback) return;
    if (this.source && this.source.kind === "list") {
      if (this.queue.length > 0) return;
      this.source = null;
    }
    const radio = this.source && this.source.kind === "radio" ? this.source : null;
    const request = ++this.queueRequest;
    const user = encodeURIComponent(this.userId);
    const path = radio
      ? `/recs/${user}/radio/${encodeURIComponent(radio.seed)}`
      : `/recs/${user}/${encodeURIComponent(playback.song.id)}`;
    let answer;
    try {
      answer = await getJSON(`${path}?limit=${UP_NEXT_SIZE * 2}`);
    } catch (err) {
      showError(this.ui.error, err);
      return;
    }
    if (request !== this.queueRequest) return; // a newer fill superseded this one
    const kept = how === "extend" ? this.queue : [];
    const taken = new Set([...this.played, ...kept.map((item) => item.song_id)]);
    const fresh = answer.items
      .filter((item) => !taken.has(item.song_id))
      .map((item) => ({
        ...item,
        from: {
          surface: radio ? "radio" : "up_next",
          rec_id: answer.rec_id,
          position: item.position,
        },
      }));
    this.queue = kept.concat(fresh).slice(0, Math.max(UP_NEXT_SIZE, kept.length));
    this.queueMode = answer.mode;
    this.refills += 1;
    this.renderQueue();
  }

  // Shown at once; undone if the server did not keep it.
  async toggleLike() {
    const playback = this.playback;
    if (!playback) return;
    const id = playback.song.id;
    const liked = this.likes.has(id);
    if (liked) this.likes.delete(id);
    else this.likes.add(id);
    this.render();
    const answer = await this.send(playback, liked ? "unlike" : "like");
    if (!answer) {
      if (liked) this.likes.add(id);
      else this.likes.delete(id);
      this.render();
    }
  }

  // "Not for me": the server never offers the song to this listener again; it stops now, and
  // Up Next is asked again (it may hold more of what the listener just turned down).
  async dislike() {
    const playback = this.playback;
    if (!playback) return;
    const answer = await this.send(playback, "dislike");
    if (!answer) return;
    this.likes.delete(playback.song.id);
    this.root.dataset.disliked = String(Number(this.root.dataset.disliked || 0) + 1);
    if (playback === this.playback && !playback.ended) {
      this.finish("skip", { advance: false });
      await this.fillQueue("replace");
      await this.next();
    } else {
      this.render();
    }
  }

  isLiked(songId) {
    return this.likes.has(songId);
  }

  addToHistory(playback, action) {
    const label = action === "complete" ? "played" : `skipped at ${formatTime(playback.heard)}`;
    this.ui.history.prepend(
      el(
        "li",
        { testid: "history-item", data: { songId: playback.song.id, outcome: action } },
        el("span", { class: "title" }, playback.song.title),
        el("span", { class: "artist" }, `${playback.song.artist} · ${label}`),
      ),
    );
  }

  render() {
    const playback = this.playback;
    const active = Boolean(playback && !playback.ended);
    this.root.dataset.state = !playback
      ? "idle"
      : playback.ended ? "stopped" : playback.paused ? "paused" : "playing";
    this.root.dataset.songId = playback ? playback.song.id : "";
    this.root.dataset.completed = String(this.completed);
    this.ui.title.textContent = playback ? playback.song.title : "Nothing yet";
    this.ui.artist.textContent = playback ? playback.song.artist : "";
    this.ui.playPause.disabled = !active;
    this.ui.skip.disabled = !active;
    this.ui.like.disabled = !playback;
    this.ui.dislike.disabled = !active;
    this.ui.radio.disabled = !active;
    this.root.dataset.likesFor = this.likesFor || "";
    this.ui.playPause.textContent = active && !playback.paused ? "Pause" : "Play";
    const liked = Boolean(playback && this.isLiked(playback.song.id));
    this.ui.like.setAttribute("aria-pressed", String(liked));
    this.ui.like.textContent = liked ? "♥ Liked" : "♡ Like";
    this.renderProgress();
    this.onChange(playback && !playback.ended ? playback.song : null);
  }

  // The song playing now (null when none).
  get playing() {
    return this.playback && !this.playback.ended ? this.playback.song : null;
  }

  renderProgress() {
    const playback = this.playback;
    const total = playback ? playback.song.duration_s : 0;
    const position = playback ? playback.position : 0;
    const percent = total ? Math.round((100 * position) / total) : 0;
    this.ui.fill.style.width = `${percent}%`;
    this.ui.progress.setAttribute("aria-valuenow", String(percent));
    this.ui.elapsed.textContent = formatTime(position);
    this.ui.total.textContent = formatTime(total);
  }

  renderQueue() {
    const source = this.source;
    this.root.dataset.refills = String(this.refills);
    this.root.dataset.queueSource = source ? source.list || source.kind : "next";
    this.root.dataset.radioSeed = source && source.kind === "radio" ? source.seed : "";
    const notes = [];
    if (source) notes.push(source.label);
    if (this.queueMode && !(source && source.kind === "list")) {
      notes.push(`mode: ${this.queueMode}`);
    }
    this.ui.upNextMode.textContent = notes.join(" · ");
    const more = this.queue.length - UP_NEXT_SHOWN;
    const rows = this.queue.slice(0, UP_NEXT_SHOWN).map((item) =>
      el(
        "li",
        { testid: "up-next-item", data: { songId: item.song_id } },
        el("span", { class: "title" }, item.title),
        el("span", { class: "artist" }, item.artist),
        reasonOf(item, "up-next-reason"),
      ),
    );
    if (more > 0) {
      rows.push(el("li", { class: "meta", testid: "up-next-more" }, `and ${more} more`));
    }
    this.ui.upNext.replaceChildren(...rows);
  }
}
