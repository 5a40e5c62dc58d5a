// Caches the app shell so the app opens offline; the API is never cached here (the app keeps
// the last bookings itself). Network first: online, the driver always gets the current app.
const CACHE = "kerbside-shell-v1";
const SHELL = [
  "/app/",
  "/app/manifest.webmanifest",
  "/app/config.json",
  "/app/static/app.css",
  "/app/static/icons/icon.svg",
  "/app/static/icons/icon-192.png",
  "/app/static/js/api.js",
  "/app/static/js/app.js",
  "/app/static/js/bookings.js",
  "/app/static/js/clock.js",
  "/app/static/js/dom.js",
  "/app/static/js/find.js",
  "/app/static/js/i18n.js",
  "/app/static/js/map.js",
  "/app/static/js/notify.js",
  "/app/vendor/leaflet/leaflet.css",
  "/app/vendor/leaflet/leaflet.js",
];
const PATIENCE_MS = 4000; // a slow network falls back to the cached shell after this

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const shell = url.origin === self.location.origin && url.pathname.startsWith("/app/");
  if (event.request.method !== "GET" || !shell) return;
  event.respondWith(networkFirst(event.request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then((response) => {
    if (response.ok) cache.put(request, response.clone());
    return response;
  });
  fromNetwork.catch(() => {}); // answered below; no unhandled rejection when the cache answers
  // Any page of the app opens the cached shell; the hash picks the screen.
  const cached = async () =>
    (await cache.match(request, { ignoreSearch: true })) ||
    (request.mode === "navigate" ? cache.match("/app/") : undefined);
  try {
    const slow = new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), PATIENCE_MS));
    return await Promise.race([fromNetwork, slow]);
  } catch {
    const hit = await cached();
    if (hit) return hit;
    return fromNetwork;
  }
}
