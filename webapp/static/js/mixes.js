// "Your mixes" on the home page (docs/mixes.md): the listener's mixes of the night from
// GET /users/<id>/mixes, each with its title, a cover and its song count; a click plays the
// mix as the queue, its songs played from surface mix at their place in it.
//
// A cover is a mosaic of up to 4 of the mix's image URLs (<img> with alt text); a mix with no
// image gets one drawn from its title (its initials), with no inline style.

import { byTestId, el, getJSON, showError } from "./api.js";

const COVER_TILES = 4;

function initials(title) {
  const words = title.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return words.slice(0, 2).map((word) => word[0].toUpperCase()).join("") || "♪";
}

function cover(mix) {
  const urls = mix.cover_urls.slice(0, COVER_TILES);
  if (urls.length === 0) {
    return el(
      "div",
      { class: `mosaic drawn ${mix.kind}`, testid: "mix-cover", "aria-hidden": "true" },
      initials(mix.title),
    );
  }
  return el(
    "div",
    { class: `mosaic tiles-${urls.length}`, testid: "mix-cover" },
    ...urls.map((url, i) =>
      el("img", {
        src: url,
        alt: `${mix.title}: cover ${i + 1} of ${urls.length}`,
        loading: "lazy",
        testid: "mix-cover-image",
        // a host the page may not load from (or a broken link) leaves its tile empty
        onerror: (event) => event.currentTarget.classList.add("broken"),
      }),
    ),
  );
}

export class Mixes {
  constructor(panel, player) {
    this.panel = panel;
    this.player = player;
    this.userId = null;
    this.request = 0;
    this.ui = {
      list: byTestId("mixes-list", panel),
      empty: byTestId("mixes-empty", panel),
      day: byTestId("mixes-day", panel),
      error: byTestId("mixes-error", panel),
    };
  }

  setUser(userId) {
    this.userId = userId;
    this.panel.hidden = !userId;
    this.ui.list.replaceChildren();
    this.ui.day.textContent = "";
    this.ui.empty.hidden = true;
    showError(this.ui.error, null);
    if (userId) this.load();
  }

  async load() {
    const userId = this.userId;
    const request = ++this.request;
    let answer;
    try {
      answer = await getJSON(`/users/${encodeURIComponent(userId)}/mixes`);
    } catch (err) {
      if (request === this.request) showError(this.ui.error, err);
      return;
    }
    if (request !== this.request) return;
    showError(this.ui.error, null);
    this.panel.dataset.mixDay = answer.mix_day || "";
    this.ui.day.textContent = answer.mix_day ? `Built from your listening to ${answer.mix_day}` : "";
    this.ui.empty.hidden = answer.items.length > 0;
    this.ui.list.replaceChildren(...answer.items.map((mix) => this.card(mix)));
  }

  card(mix) {
    const count = mix.songs.length === 1 ? "1 song" : `${mix.songs.length} songs`;
    return el(
      "li",
      { class: "mix", testid: "mix-item", data: { position: mix.position, kind: mix.kind } },
      el(
        "button",
        {
          type: "button",
          class: "mix-play",
          testid: "mix-play",
          "aria-label": `Play ${mix.title} (${count})`,
          onclick: () => this.play(mix),
        },
        cover(mix),
        el("span", { class: "title", testid: "mix-title" }, mix.title),
        el("span", { class: "meta", testid: "mix-count" }, count),
      ),
    );
  }

  play(mix) {
    const songs = mix.songs.map((song, i) => ({
      ...song,
      song_id: song.id,
      from: { surface: "mix", position: i + 1 },
    }));
    this.player.playList(songs, { kind: "mix", label: `mix: ${mix.title}` });
  }
}
