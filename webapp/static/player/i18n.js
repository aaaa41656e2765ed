// UI text from the page's config (zh-TW first, English second; chosen on the server).
const config = JSON.parse(document.getElementById('player-config').textContent);

export function getConfig() { return config; }

/** The message for `key`, with {name} placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = config.messages[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}
