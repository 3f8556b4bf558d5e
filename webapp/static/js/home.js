// The listener's home: sign in (or up), see "For you", trending and search, and play any of
// them in the player panel. The chosen listener is kept in the URL (?user=) and in
// localStorage, so a reload or a shared link opens the same listener.
//
// Sign-in (RECSYS_AUTH_MODE=token, docs/security.md): the server keeps the listener's token
// in an HttpOnly cookie this script never sees; GET /auth/me says who is signed in. With demo
// sign-in on, picking a listener signs in as them. In open mode the picker just picks.
//
// The listener's playlists (playlists.js) and nightly mixes (mixes.js) have panels of their
// own; any song row can start a radio from its song (player.js).

import {
  byTestId,
  debounce,
  el,
  formatTime,
  getJSON,
  postJSON,
  query,
  reasonOf,
  showError,
} from "./api.js";
import { Mixes } from "./mixes.js";
import { Player } from "./player.js";
import { Playlists } from "./playlists.js";

const USER_KEY = "musicrec.user";
const USERS_PAGE = 100;
const RECS_SHOWN = 10;
const TRENDING_SHOWN = 10;

const state = { userId: null, users: new Map(), usersLoaded: 0, usersTotal: 0, recsRequest: 0 };
const auth = { mode: "open", demoSignin: false, user: null };
const select = byTestId("user-select");
// the add-to-playlist control follows the playing song (the player renders before the
// playlists exist)
let playlists = null;
const player = new Player(byTestId("player"), {
  onPlayed: () => loadRecs(),
  onChange: () => playlists && playlists.playingChanged(),
});
playlists = new Playlists(byTestId("playlists-panel"), player);
const mixes = new Mixes(byTestId("mixes-panel"), player);

// ``from``: the list the song is played from (surface, and rec_id for a recommendation).
function songRow(item, testid, extra = [], from = {}) {
  const id = item.song_id ?? item.id;
  return el(
    "li",
    { class: "song", testid, data: { songId: id } },
    el(
      "button",
      {
        type: "button",
        class: "play",
        testid: "play-song",
        "aria-label": `Play ${item.title}`,
        onclick: () => player.pick({ ...item, from }),
      },
      "▶",
    ),
    el(
      "div",
      { class: "song-text" },
      el("span", { class: "title" }, item.title),
      el("span", { class: "artist" }, [item.artist, item.genre].filter(Boolean).join(" · ")),
      ...extra,
    ),
    item.duration_s ? el("span", { class: "duration" }, formatTime(item.duration_s)) : null,
    el(
      "button",
      {
        type: "button",
        class: "radio",
        testid: "radio-song",
        title: "Radio: this song, then songs like it",
        "aria-label": `Radio from ${item.title}`,
        onclick: () => player.startRadio({ ...item, from }),
      },
      "Radio",
    ),
  );
}

// --- listeners -------------------------------------------------------------------------

function addUserOptions(users) {
  for (const user of users) {
    if (state.users.has(user.id)) continue;
    state.users.set(user.id, user);
    select.append(el("option", { value: user.id }, `${user.display_name} (${user.id})`));
  }
}

async function loadUsers() {
  if (!mayPick()) return;
  try {
    const page = await getJSON(`/users?${query({ limit: USERS_PAGE, offset: state.usersLoaded })}`);
    state.usersLoaded += page.items.length;
    state.usersTotal = page.total;
    addUserOptions(page.items);
    byTestId("more-users").hidden = state.usersLoaded >= state.usersTotal;
  } catch (err) {
    showError(byTestId("users-error"), err);
  }
}

// --- sign-in -------------------------------------------------------------------------------

const signingIn = () => auth.mode === "token";
const mayPick = () => !signingIn() || auth.demoSignin;

function renderAuth() {
  for (const node of document.querySelectorAll(".token-only")) node.hidden = !signingIn();
  byTestId("signin-form").hidden = !signingIn() || Boolean(auth.user);
  byTestId("demo-hint").hidden = !(signingIn() && auth.demoSignin);
  byTestId("picker-row").hidden = !mayPick();
  byTestId("sign-out").hidden = !(signingIn() && auth.user);
  byTestId("new-user-submit").textContent = signingIn() ? "Sign up" : "Create and pick";
  document.body.dataset.signedIn = String(Boolean(auth.user));
}

async function loadMe() {
  const me = await getJSON("/auth/me");
  auth.mode = me.mode;
  auth.demoSignin = me.demo_signin;
  auth.user = me.signed_in && me.user ? me.user : null;
  if (auth.user) addUserOptions([auth.user]);
  renderAuth();
}

// In token mode, be signed in as ``userId`` (demo sign-in), or say why not.
async function signedInAs(userId) {
  if (!signingIn() || (auth.user && auth.user.id === userId)) return true;
  if (!auth.demoSignin) {
    showError(byTestId("users-error"), new Error("sign in to listen as another listener"));
    return false;
  }
  try {
    const { user } = await postJSON("/auth/demo", { user_id: userId });
    auth.user = user;
    addUserOptions([user]);
    renderAuth();
    return true;
  } catch (err) {
    showError(byTestId("users-error"), err);
    return false;
  }
}

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = byTestId("signin-error");
  try {
    const { user } = await postJSON("/auth/signin", {
      username: form.elements.username.value,
      password: form.elements.password.value,
    });
    showError(error, null);
    form.reset();
    auth.user = user;
    addUserOptions([user]);
    renderAuth();
    await selectUser(user.id);
  } catch (err) {
    showError(error, err);
  }
}

async function signOut() {
  try {
    await postJSON("/auth/signout", {});
  } catch (err) {
    showError(byTestId("users-error"), err);
    return;
  }
  auth.user = null;
  state.userId = null;
  state.recsRequest += 1;
  select.value = "";
  localStorage.removeItem(USER_KEY);
  const url = new URL(window.location.href);
  url.searchParams.delete("user");
  window.history.replaceState(null, "", url);
  byTestId("listening-as").hidden = true;
  byTestId("recs-list").replaceChildren();
  player.setUser(null);
  playlists.setUser(null);
  mixes.setUser(null);
  renderAuth();
}

async function selectUser(userId) {
  if (!(await signedInAs(userId))) return;
  if (!state.users.has(userId)) {
    try {
      addUserOptions([await getJSON(`/users/${encodeURIComponent(userId)}`)]);
    } catch (err) {
      showError(byTestId("users-error"), err);
      return;
    }
  }
  showError(byTestId("users-error"), null);
  state.userId = userId;
  select.value = userId;
  localStorage.setItem(USER_KEY, userId);
  const url = new URL(window.location.href);
  url.searchParams.set("user", userId);
  window.history.replaceState(null, "", url);
  byTestId("current-user-name").textContent = state.users.get(userId).display_name;
  byTestId("listening-as").hidden = false;
  player.setUser(userId);
  playlists.setUser(userId);
  mixes.setUser(userId);
  await loadRecs();
}

async function loadGenres() {
  try {
    const { items } = await getJSON("/genres");
    byTestId("genre-choices").replaceChildren(
      ...items.map((genre) =>
        el(
          "label",
          { class: "chip" },
          el("input", { type: "checkbox", name: "genre", value: genre }),
          genre,
        ),
      ),
    );
  } catch (err) {
    showError(byTestId("new-user-error"), err);
  }
}

async function createUser(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = byTestId("new-user-error");
  const body = {
    display_name: form.elements.display_name.value,
    onboarding_genres: [...form.querySelectorAll("input[name=genre]:checked")].map((i) => i.value),
  };
  if (signingIn()) {
    body.username = form.elements.username.value;
    body.password = form.elements.password.value;
  }
  try {
    const user = signingIn()
      ? (await postJSON("/auth/signup", body)).user
      : await postJSON("/users", body);
    if (signingIn()) {
      auth.user = user;
      renderAuth();
    }
    showError(error, null);
    addUserOptions([user]);
    form.reset();
    form.closest("details").open = false;
    await selectUser(user.id);
  } catch (err) {
    showError(error, err);
  }
}

// --- recommendations, trending, search ---------------------------------------------------

async function loadRecs() {
  const userId = state.userId;
  if (!userId) return;
  const request = ++state.recsRequest;
  const list = byTestId("recs-list");
  const error = byTestId("recs-error");
  try {
    const answer = await getJSON(`/recs/${encodeURIComponent(userId)}?limit=${RECS_SHOWN}`);
    if (request !== state.recsRequest) return; // a newer answer is on its way
    showError(error, null);
    const notes = [`mode: ${answer.mode}`];
    if (answer.model_version !== null && answer.model_version !== undefined) {
      notes.push(`model v${answer.model_version}`);
    }
    if (answer.degraded && answer.degraded.length) {
      notes.push(`degraded: ${answer.degraded.join(", ")}`);
    }
    const mode = byTestId("recs-mode");
    mode.textContent = notes.join(" · ");
    mode.dataset.mode = answer.mode;
    list.replaceChildren(
      ...answer.items.map((item) =>
        songRow(item, "rec-item", [reasonOf(item, "rec-reason")], {
          surface: "home",
          rec_id: answer.rec_id,
          position: item.position,
        }),
      ),
    );
    byTestId("recs-empty").hidden = answer.items.length > 0;
    byTestId("recs-empty").textContent = "No recommendations yet.";
  } catch (err) {
    if (request === state.recsRequest) showError(error, err);
  }
}

function rankChange(item) {
  if (item.previous_rank === null || item.previous_rank === undefined) {
    return el("span", { class: "change new", title: "new in the chart" }, "new");
  }
  const change = item.rank_change;
  const down = -change;
  if (change > 0) return el("span", { class: "change up", title: `up ${change}` }, `▲${change}`);
  if (change < 0) return el("span", { class: "change down", title: `down ${down}` }, `▼${down}`);
  return el("span", { class: "change same", title: "unchanged" }, "–");
}

async function loadTrending() {
  try {
    const answer = await getJSON(`/trending?limit=${TRENDING_SHOWN}`);
    byTestId("trending-date").textContent = answer.snapshot_date
      ? `Plays over the 7 days to ${answer.snapshot_date}`
      : "No trending snapshot yet.";
    byTestId("trending-list").replaceChildren(
      ...answer.items.map((item) => {
        const rank = `#${item.rank} · ${item.plays_7d} plays `;
        return songRow(
          item,
          "trending-item",
          [el("span", { class: "meta" }, rank, rankChange(item))],
          { surface: "trending", position: item.rank },
        );
      }),
    );
  } catch (err) {
    showError(byTestId("trending-error"), err);
  }
}

let searchRequest = 0;
async function search(q) {
  const request = ++searchRequest;
  const songs = byTestId("search-songs");
  const artists = byTestId("search-artists");
  const error = byTestId("search-error");
  if (!q.trim()) {
    songs.replaceChildren();
    artists.replaceChildren();
    return;
  }
  try {
    const answer = await getJSON(`/search?${query({ q })}`);
    if (request !== searchRequest) return;
    showError(error, null);
    songs.replaceChildren(
      ...answer.songs.map((song, i) =>
        songRow(song, "search-song", [], { surface: "search", position: i + 1 }),
      ),
    );
    artists.replaceChildren(
      ...answer.artists.map((artist) =>
        el(
          "li",
          { testid: "search-artist" },
          el(
            "button",
            { type: "button", class: "link", onclick: () => runSearch(artist.name) },
            artist.name,
          ),
          ` · ${artist.genre}`,
        ),
      ),
    );
  } catch (err) {
    if (request === searchRequest) showError(error, err);
  }
}

const searchBox = byTestId("search-box");
function runSearch(q) {
  searchBox.value = q;
  search(q);
}

// --- wiring --------------------------------------------------------------------------------

select.addEventListener("change", () => select.value && selectUser(select.value));
byTestId("more-users").addEventListener("click", loadUsers);
byTestId("new-user-form").addEventListener("submit", createUser);
byTestId("signin-form").addEventListener("submit", signIn);
byTestId("sign-out").addEventListener("click", signOut);
searchBox.addEventListener("input", debounce(() => search(searchBox.value), 250));

async function init() {
  try {
    await loadMe();
  } catch (err) {
    showError(byTestId("users-error"), err);
  }
  await Promise.all([loadUsers(), loadGenres(), loadTrending()]);
  const fromUrl = new URL(window.location.href).searchParams.get("user");
  const remembered = fromUrl || localStorage.getItem(USER_KEY);
  // signed in without demo sign-in: the signed-in listener, whatever the URL says
  const wanted = auth.user && !auth.demoSignin ? auth.user.id : remembered || auth.user?.id;
  if (wanted) await selectUser(wanted);
  document.body.dataset.ready = "true";
}

init();
