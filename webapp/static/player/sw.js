// Service Worker for the student player (served at /take/sw.js with CACHE_NAME, SHELL_URL and
// PRECACHE prepended). It keeps the shell page and its assets so that a reload without network
// still opens the player, which then shows the queued answers from localStorage. The API is
// never cached: answers and the attempt always go to the server.
/* global CACHE_NAME, SHELL_URL, PRECACHE */
const NETWORK_TIMEOUT_MS = 6000;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE_NAME);
    await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload', credentials: 'same-origin' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE_NAME && name.startsWith('ctc-player-')) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function isShell(url) {
  return url.pathname === SHELL_URL;
}

function isAsset(url) {
  return PRECACHE.includes(url.pathname);
}

async function fromNetwork(request, cacheKey) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  try {
    const response = await fetch(request, { signal: controller.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const cache = await caches.open(CACHE_NAME);
    await cache.put(cacheKey, response.clone());
    return response;
  } finally {
    clearTimeout(timer);
  }
}

// Network first (fresh code and text when online), the cache when the network fails or hangs.
async function networkFirst(request, cacheKey) {
  try {
    return await fromNetwork(request, cacheKey);
  } catch (err) {
    const cache = await caches.open(CACHE_NAME);
    const hit = await cache.match(cacheKey) || await cache.match(SHELL_URL);
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' && isShell(url)) {
    // One cached shell per language; a ticket in the URL never becomes part of a cache key.
    const lang = url.searchParams.get('lang');
    const key = lang ? `${SHELL_URL}?lang=${encodeURIComponent(lang)}` : SHELL_URL;
    event.respondWith(networkFirst(request, key));
  } else if (isAsset(url)) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
