// The listener's playlists on the home page (docs/playlists.md): the Playlists panel (create,
// rename, delete after a confirm step, open one to see its songs in order, remove a song,
// move one up or down, play it, add a suggested song) and the player's "Add to playlist"
// control for the playing song.
//
// Names and descriptions are exactly what listeners typed, markup included: they are shown
// through el() as text, never parsed. A refused change shows the API's message (a duplicate
// add names the song) and changes nothing on the page.

import { byTestId, el, formatTime, getJSON, postJSON, query, send, showError } from "./api.js";

const PLAYLISTS_PAGE = 100; // the API's largest page
const SONGS_PAGE = 100;
const SUGGESTIONS_SHOWN = 5;

const playlistPath = (id) => `/playlists/${encodeURIComponent(id)}`;

function countText(playlist) {
  const songs = playlist.song_count === 1 ? "1 song" : `${playlist.song_count} songs`;
  return `${songs} · ${playlist.public ? "public" : "private"}`;
}

export class Playlists {
  constructor(panel, player) {
    this.panel = panel;
    this.player = player;
    this.userId = null;
    this.items = [];
    this.total = 0;
    this.open = null; // {playlist, songs: [...], total}
    this.request = 0;
    this.ui = {
      form: byTestId("playlist-form", panel),
      list: byTestId("playlists-list", panel),
      empty: byTestId("playlists-empty", panel),
      more: byTestId("playlists-more", panel),
      error: byTestId("playlists-error", panel),
      view: byTestId("playlist-view", panel),
      viewName: byTestId("playlist-view-name", panel),
      viewMeta: byTestId("playlist-view-meta", panel),
      songs: byTestId("playlist-songs", panel),
      songsEmpty: byTestId("playlist-songs-empty", panel),
      songsMore: byTestId("playlist-songs-more", panel),
      play: byTestId("playlist-view-play", panel),
      close: byTestId("playlist-view-close", panel),
      suggestions: byTestId("playlist-suggestions", panel),
      suggestionsNote: byTestId("playlist-suggestions-note", panel),
      viewError: byTestId("playlist-view-error", panel),
      addForm: byTestId("add-to-playlist-form"),
      addSelect: byTestId("add-to-playlist-select"),
      addButton: byTestId("add-to-playlist"),
      addStatus: byTestId("add-to-playlist-status"),
    };
    this.ui.form.addEventListener("submit", (event) => this.create(event));
    this.ui.more.addEventListener("click", () => this.load(this.items.length));
    this.ui.songsMore.addEventListener("click", () => this.loadSongs(this.open.songs.length));
    this.ui.play.addEventListener("click", () => this.play(this.open.playlist, 1));
    this.ui.close.addEventListener("click", () => this.close());
    this.ui.addForm.addEventListener("submit", (event) => this.addPlaying(event));
    this.ui.addSelect.addEventListener("change", () => this.playingChanged());
  }

  // A new listener (or none, signed out): their playlists, nothing open.
  setUser(userId) {
    if (userId === this.userId) return;
    this.userId = userId;
    this.items = [];
    this.total = 0;
    this.close();
    this.ui.list.replaceChildren();
    showError(this.ui.error, null);
    this.ui.addStatus.textContent = "";
    this.panel.hidden = !userId;
    this.ui.addForm.hidden = !userId;
    this.renderAddChoices();
    if (userId) this.load(0);
  }

  // A page of the listener's playlists from ``offset`` (0: afresh), newest first.
  async load(offset = 0) {
    const userId = this.userId;
    if (!userId) return;
    const request = ++this.request;
    try {
      const path = `/users/${encodeURIComponent(userId)}/playlists`;
      const page = await getJSON(`${path}?${query({ limit: PLAYLISTS_PAGE, offset })}`);
      if (request !== this.request || userId !== this.userId) return;
      this.items = offset === 0 ? page.items : this.items.concat(page.items);
      this.total = page.total;
      showError(this.ui.error, null);
    } catch (err) {
      if (request === this.request) showError(this.ui.error, err);
      return;
    }
    this.render();
  }

  async create(event) {
    event.preventDefault();
    const form = event.currentTarget;
    try {
      const created = await postJSON(`/users/${encodeURIComponent(this.userId)}/playlists`, {
        name: form.elements.name.value,
        public: form.elements.public.checked,
      });
      form.reset();
      showError(this.ui.error, null);
      await this.load(0);
      this.ui.addSelect.value = created.id;
      this.playingChanged();
    } catch (err) {
      showError(this.ui.error, err);
    }
  }

  render() {
    this.panel.dataset.count = String(this.items.length);
    this.ui.list.replaceChildren(...this.items.map((playlist) => this.row(playlist)));
    this.ui.empty.hidden = this.items.length > 0;
    this.ui.more.hidden = this.items.length >= this.total;
    this.renderAddChoices();
  }

  row(playlist, mode = "idle") {
    const item = el(
      "li",
      { class: "playlist", testid: "playlist-item", data: { playlistId: playlist.id } },
      el(
        "div",
        { class: "song-text" },
        el("span", { class: "title", testid: "playlist-name" }, playlist.name),
        el("span", { class: "artist", testid: "playlist-meta" }, countText(playlist)),
      ),
    );
    const button = (testid, label, onclick, extra = {}) =>
      el("button", { type: "button", testid, onclick, ...extra }, label);
    if (mode === "rename") {
      const input = el("input", {
        name: "name",
        value: playlist.name,
        maxlength: 200,
        "aria-label": "New name",
        testid: "playlist-rename-input",
      });
      const form = el(
        "form",
        { class: "row wrap", onsubmit: (event) => this.rename(event, playlist, input.value) },
        input,
        el("button", { type: "submit", testid: "playlist-rename-save" }, "Save"),
        button("playlist-rename-cancel", "Cancel", () => item.replaceWith(this.row(playlist))),
      );
      item.append(form);
      queueMicrotask(() => input.focus());
    } else if (mode === "confirm") {
      item.append(
        el(
          "div",
          { class: "row wrap confirm", role: "group", "aria-label": "Confirm delete" },
          el("span", { class: "meta" }, "Delete this playlist?"),
          button("playlist-delete-confirm", "Delete", () => this.remove(playlist), {
            class: "danger",
          }),
          button("playlist-delete-cancel", "Keep", () => item.replaceWith(this.row(playlist))),
        ),
      );
    } else {
      item.append(
        el(
          "div",
          { class: "row wrap actions" },
          button("playlist-open", "Open", () => this.show(playlist)),
          button("playlist-play", "Play", () => this.play(playlist, 1), {
            disabled: playlist.song_count === 0,
          }),
          button("playlist-rename", "Rename", () =>
            item.replaceWith(this.row(playlist, "rename")),
          ),
          button("playlist-delete", "Delete", () =>
            item.replaceWith(this.row(playlist, "confirm")),
          ),
        ),
      );
    }
    return item;
  }

  async rename(event, playlist, name) {
    event.preventDefault();
    try {
      const changed = await send("PATCH", playlistPath(playlist.id), { name });
      showError(this.ui.error, null);
      this.replaced(changed);
    } catch (err) {
      showError(this.ui.error, err);
    }
  }

  // A playlist the server answered changed: its row, the open view and the choices follow.
  replaced(playlist) {
    this.items = this.items.map((p) => (p.id === playlist.id ? playlist : p));
    if (this.open && this.open.playlist.id === playlist.id) {
      this.open.playlist = playlist;
      this.renderOpen();
    }
    this.render();
  }

  async remove(playlist) {
    try {
      await send("DELETE", playlistPath(playlist.id));
      showError(this.ui.error, null);
    } catch (err) {
      showError(this.ui.error, err);
      return;
    }
    if (this.open && this.open.playlist.id === playlist.id) this.close();
    await this.load(0);
  }

  // --- one playlist open ---------------------------------------------------------------

  async show(playlist) {
    this.open = { playlist, songs: [], total: 0 };
    this.ui.view.hidden = false;
    this.ui.view.dataset.playlistId = playlist.id;
    this.renderOpen();
    await this.loadSongs(0);
    this.ui.view.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.open = null;
    this.ui.view.hidden = true;
    this.ui.view.dataset.playlistId = "";
    this.ui.songs.replaceChildren();
    this.ui.suggestions.replaceChildren();
  }

  // The open playlist's songs from ``offset`` (0: afresh), then its suggestions.
  async loadSongs(offset) {
    const open = this.open;
    if (!open) return;
    try {
      const path = `${playlistPath(open.playlist.id)}?${query({ limit: SONGS_PAGE, offset })}`;
      const answer = await getJSON(path);
      if (open !== this.open) return;
      const { songs, ...playlist } = answer;
      open.playlist = playlist;
      open.songs = offset === 0 ? songs.items : open.songs.concat(songs.items);
      open.total = songs.total;
      showError(this.ui.viewError, null);
      this.replaced(playlist);
    } catch (err) {
      showError(this.ui.viewError, err);
      return;
    }
    this.renderOpen();
    if (offset === 0) await this.loadSuggestions();
  }

  renderOpen() {
    const open = this.open;
    if (!open) return;
    this.ui.viewName.textContent = open.playlist.name;
    this.ui.viewMeta.textContent = countText(open.playlist);
    this.ui.play.disabled = open.total === 0;
    this.ui.songsEmpty.hidden = open.songs.length > 0;
    this.ui.songsMore.hidden = open.songs.length >= open.total;
    const last = open.total;
    this.ui.songs.replaceChildren(
      ...open.songs.map((song) =>
        el(
          "li",
          {
            class: song.available ? "song" : "song unavailable",
            testid: "playlist-song",
            data: { songId: song.song_id, position: song.position },
          },
          el(
            "button",
            {
              type: "button",
              class: "play",
              testid: "play-song",
              "aria-label": `Play ${song.title} and what follows it`,
              disabled: !song.available,
              onclick: () => this.play(open.playlist, song.position),
            },
            "▶",
          ),
          el(
            "div",
            { class: "song-text" },
            el("span", { class: "title" }, `${song.position}. ${song.title}`),
            el(
              "span",
              { class: "artist" },
              song.available ? song.artist : `${song.artist} · no longer available`,
            ),
          ),
          el(
            "div",
            { class: "row tools" },
            el(
              "button",
              {
                type: "button",
                testid: "playlist-song-up",
                "aria-label": `Move ${song.title} up`,
                disabled: song.position === 1,
                onclick: () => this.move(song.position, song.position - 1),
              },
              "↑",
            ),
            el(
              "button",
              {
                type: "button",
                testid: "playlist-song-down",
                "aria-label": `Move ${song.title} down`,
                disabled: song.position === last,
                onclick: () => this.move(song.position, song.position + 1),
              },
              "↓",
            ),
            el(
              "button",
              {
                type: "button",
                testid: "playlist-song-remove",
                "aria-label": `Remove ${song.title}`,
                onclick: () => this.removeSong(song),
              },
              "✕",
            ),
          ),
        ),
      ),
    );
  }

  // PUT /playlists/<id>/order with one move; the answer is the playlist's first page.
  async move(from, to) {
    const open = this.open;
    try {
      await send("PUT", `${playlistPath(open.playlist.id)}/order`, { from, to });
    } catch (err) {
      showError(this.ui.viewError, err);
      return;
    }
    await this.loadSongs(0);
  }

  async removeSong(song) {
    const open = this.open;
    const path = `${playlistPath(open.playlist.id)}/songs/${encodeURIComponent(song.song_id)}`;
    try {
      await send("DELETE", path);
    } catch (err) {
      showError(this.ui.viewError, err);
      return;
    }
    await this.loadSongs(0);
  }

  async loadSuggestions() {
    const open = this.open;
    if (!open) return;
    let answer;
    try {
      const path = `${playlistPath(open.playlist.id)}/suggestions?limit=${SUGGESTIONS_SHOWN}`;
      answer = await getJSON(path);
    } catch (err) {
      showError(this.ui.viewError, err);
      return;
    }
    if (open !== this.open) return;
    this.ui.suggestionsNote.textContent = answer.items.length
      ? ""
      : open.total === 0
        ? "Add songs to get suggestions."
        : "No suggestions yet.";
    this.ui.suggestions.replaceChildren(
      ...answer.items.map((item) =>
        el(
          "li",
          { class: "song", testid: "playlist-suggestion", data: { songId: item.song_id } },
          el(
            "div",
            { class: "song-text" },
            el("span", { class: "title" }, item.title),
            el("span", { class: "artist" }, `${item.artist} · ${formatTime(item.duration_s)}`),
            item.reason && item.reason.text
              ? el("span", { class: "reason" }, item.reason.text)
              : null,
          ),
          el(
            "button",
            {
              type: "button",
              testid: "suggestion-add",
              "aria-label": `Add ${item.title} to the playlist`,
              onclick: () => this.addSongs(open.playlist.id, [item.song_id], this.ui.viewError),
            },
            "Add",
          ),
        ),
      ),
    );
  }

  // --- adding and playing ----------------------------------------------------------------

  // POST /playlists/<id>/songs: all or none; a refusal (a duplicate) shows the API's message.
  async addSongs(playlistId, songIds, errorNode) {
    try {
      const added = await postJSON(`${playlistPath(playlistId)}/songs`, { song_ids: songIds });
      showError(errorNode, null);
      const playlist = this.items.find((p) => p.id === playlistId);
      if (playlist) this.replaced({ ...playlist, song_count: added.song_count });
      if (this.open && this.open.playlist.id === playlistId) await this.loadSongs(0);
      return added;
    } catch (err) {
      showError(errorNode, err);
      return null;
    }
  }

  renderAddChoices() {
    const select = this.ui.addSelect;
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "" }, this.items.length ? "Choose a playlist…" : "No playlists yet"),
      ...this.items.map((p) => el("option", { value: p.id }, p.name)),
    );
    if (this.items.some((p) => p.id === chosen)) select.value = chosen;
    this.playingChanged();
  }

  // The player's song changed (or the choice did): the add button follows.
  playingChanged() {
    if (!this.ui) return;
    this.ui.addButton.disabled = !(this.player.playing && this.ui.addSelect.value);
  }

  async addPlaying(event) {
    event.preventDefault();
    const song = this.player.playing;
    const playlistId = this.ui.addSelect.value;
    if (!song || !playlistId) return;
    const status = this.ui.addStatus;
    status.dataset.outcome = "";
    status.textContent = "";
    const added = await this.addSongs(playlistId, [song.id], status);
    if (!added) {
      status.dataset.outcome = "refused";
      return;
    }
    const playlist = this.items.find((p) => p.id === playlistId);
    status.dataset.outcome = "added";
    status.textContent = `Added ${song.title} to ${playlist ? playlist.name : "the playlist"}.`;
  }

  // Plays ``playlist`` from the song at ``from`` (1-based): its songs, every page of them,
  // become the queue, each played from surface playlist at its position.
  async play(playlist, from) {
    const songs = [];
    try {
      for (let offset = from - 1; ; offset += SONGS_PAGE) {
        const path = `${playlistPath(playlist.id)}?${query({ limit: SONGS_PAGE, offset })}`;
        const page = (await getJSON(path)).songs;
        songs.push(...page.items);
        if (page.items.length < SONGS_PAGE || offset + SONGS_PAGE >= page.total) break;
      }
    } catch (err) {
      showError(this.ui.error, err);
      return;
    }
    const playable = songs
      .filter((song) => song.available)
      .map((song) => ({ ...song, from: { surface: "playlist", position: song.position } }));
    if (playable.length === 0) {
      showError(this.ui.error, new Error(`${playlist.name}: no song to play`));
      return;
    }
    this.player.playList(playable, { kind: "playlist", label: `playlist: ${playlist.name}` });
  }
}
