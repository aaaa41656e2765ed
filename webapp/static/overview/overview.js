// The city overview refreshes itself. It polls the JSON twin of the page about every refreshSeconds
// (±20% jitter, so many open tabs do not ask at the same moment). After an error it waits twice as
// long each time, up to maxBackoffSeconds. It does not poll while the tab is hidden and asks at once
// when the tab comes back. The tables come laid out by the server, as on the page itself; rows are
// updated in place by key, so a link with keyboard focus stays where it is. The page never looks
// fresh when it is not: the time of the data is always shown, and a failed refresh shows a banner.
import { h, clear } from '../player/dom.js';

const $ = (id) => document.getElementById(id);
const cfg = JSON.parse($('overview-config').textContent);
const BASE_MS = cfg.refreshSeconds * 1000;
const MAX_MS = cfg.maxBackoffSeconds * 1000;
const TIMEOUT_MS = 10000;

const state = { timer: null, inflight: false, failures: 0, lastOk: Date.now(), failure: null };
const timeFormat = new Intl.DateTimeFormat(cfg.lang === 'en' ? 'en-GB' : 'zh-TW',
  { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: 'Asia/Taipei' });

function t(key, values = {}) {
  const text = cfg.messages[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

// --- polling -----------------------------------------------------------------------------------------
function nextDelay() {
  const base = state.failures ? Math.min(BASE_MS * 2 ** state.failures, MAX_MS) : BASE_MS;
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = null;
  if (!document.hidden) state.timer = setTimeout(refresh, nextDelay());
}

async function refresh() {
  if (state.inflight) return;
  state.inflight = true;
  clearTimeout(state.timer);
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(cfg.apiUrl, {
      headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store',
      redirect: 'error', signal: controller.signal,
    });
    if (!response.ok) throw { kind: 'http', status: response.status };
    render(await response.json());
    state.failures = 0;
    state.failure = null;
    state.lastOk = Date.now();
  } catch (err) {
    state.failures += 1;
    state.failure = err && err.kind === 'http' ? err : { kind: 'network' };
  } finally {
    clearTimeout(timeout);
    state.inflight = false;
    showFreshness();
    schedule();
  }
}

// --- freshness -----------------------------------------------------------------------------------------
function staleReason(err) {
  if (err.kind === 'network') return t('overview.stale_network');
  if (err.status === 401) return t('overview.stale_login');
  if (err.status === 403) return t('overview.stale_forbidden');
  return t('overview.stale_http', { status: err.status });
}

function showFreshness() {
  const time = timeFormat.format(new Date(state.lastOk));
  $('updated-line').hidden = false;
  setText($('updated'), t('overview.updated_at', { time }));
  const stale = Boolean(state.failure);
  document.body.classList.toggle('is-stale', stale);
  const banner = $('stale');
  if (!stale) {
    banner.hidden = true;
    return;
  }
  clear(banner);
  banner.append(h('p', {}, t('overview.stale', { reason: staleReason(state.failure), time })));
  if (state.failure.status === 401) banner.append(h('p', {}, h('a', { href: cfg.loginUrl }, t('overview.login_again'))));
  banner.hidden = false;
}

// --- rendering -------------------------------------------------------------------------------------------
function cellContent(cell) {
  if (cell.href) return h('a', { href: cell.href, 'aria-label': cell.label || null }, cell.t);
  if (cell.c && cell.c.startsWith('badge')) return h('span', { class: cell.c }, cell.t);
  return document.createTextNode(cell.t);
}

function sameAsServer(el, cell) {
  const link = el.querySelector('a');
  return el.textContent.trim() === cell.t && (cell.href ? Boolean(link) && link.getAttribute('href') === cell.href : !link);
}

function fillCell(el, cell, label) {
  const signature = JSON.stringify(cell);
  if (el.dataset.sig === signature) return;
  if (el.dataset.sig === undefined && sameAsServer(el, cell)) { // as the server rendered it: keep the node (and focus)
    el.dataset.sig = signature;
    return;
  }
  const changed = el.dataset.sig !== undefined || el.textContent.trim() !== cell.t;
  el.dataset.sig = signature;
  clear(el);
  el.append(cellContent(cell));
  el.className = cell.c && !cell.c.startsWith('badge') ? cell.c : '';
  if (label) el.dataset.label = label;
  if (changed) {
    el.classList.remove('changed');
    void el.offsetWidth; // restart the highlight animation
    el.classList.add('changed');
  }
}

function buildRow(row, labels) {
  const tr = h('tr', { dataset: { key: row.key } });
  row.cells.forEach((cell, i) => {
    const el = i === 0 ? h('th', { scope: 'row' }) : h('td');
    fillCell(el, cell, i === 0 ? null : labels[i]);
    tr.append(el);
  });
  return tr;
}

function syncTable(table) {
  const tbody = document.querySelector(`tbody[data-rows="${table.id}"]`);
  if (!tbody) return;
  const labels = [...tbody.closest('table').querySelectorAll('thead th')].map((th) => th.textContent.trim());
  const existing = new Map();
  for (const tr of [...tbody.children]) {
    if (tr.dataset.key !== undefined) existing.set(tr.dataset.key, tr);
    else tr.remove(); // the "nothing to show" row
  }
  table.rows.forEach((row, i) => {
    let tr = existing.get(row.key);
    if (tr && tr.children.length !== row.cells.length) { tr.remove(); tr = undefined; }
    if (!tr) {
      tr = buildRow(row, labels);
    } else {
      row.cells.forEach((cell, j) => fillCell(tr.children[j], cell, j === 0 ? null : labels[j]));
    }
    existing.delete(row.key);
    tr.className = row.cls || '';
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
  for (const tr of existing.values()) tr.remove();
  if (!table.rows.length) tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: table.columns }, table.empty)));
}

function render(data) {
  for (const s of data.summary) {
    const el = document.querySelector(`[data-sum="${s.k}"]`);
    if (!el) continue;
    setText(el, s.t);
    el.closest('.sum').classList.toggle('warn', s.warn);
  }
  for (const table of data.tables) syncTable(table);
  setText($('as-of'), data.as_of_text);
  $('no-presence').hidden = data.presence_available;
}

// --- start -----------------------------------------------------------------------------------------------
$('btn-refresh').addEventListener('click', () => refresh());
document.addEventListener('visibilitychange', () => {
  if (document.hidden) { clearTimeout(state.timer); state.timer = null; return; }
  if (Date.now() - state.lastOk >= BASE_MS) refresh(); else schedule();
});
window.addEventListener('online', () => refresh());
window.addEventListener('pageshow', (event) => { if (event.persisted) refresh(); });
showFreshness();
schedule();
