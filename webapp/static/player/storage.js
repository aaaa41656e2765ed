// JSON in localStorage / sessionStorage that never throws (private mode, quota): the caller
// learns whether the write succeeded, because the answer queue must be written before sending.

function wrap(area) {
  return {
    get(key, fallback = null) {
      try {
        const raw = area.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        area.setItem(key, JSON.stringify(value));
        return true;
      } catch (e) {
        return false;
      }
    },
    remove(key) {
      try { area.removeItem(key); } catch (e) { /* nothing to do */ }
    },
    keys() {
      const out = [];
      try {
        for (let i = 0; i < area.length; i += 1) out.push(area.key(i));
      } catch (e) { /* storage unavailable */ }
      return out;
    },
  };
}

export const local = wrap(window.localStorage);
export const session = wrap(window.sessionStorage);
