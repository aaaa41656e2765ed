// A calibration run's page: polls progress.json and moves the bar (EM iteration of max, log-likelihood,
// change) until the run ends, then reloads once so the server draws the summary. No inline script (CSP).
const POLL_MS = 1000;
const live = document.getElementById('run-live');

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

function describe(p) {
  const parts = [fill(live.dataset.textIteration, { iteration: p.iteration, max_iter: p.max_iter })];
  if (p.loglik !== null && p.loglik !== undefined) {
    parts.push(fill(live.dataset.textLoglik, { loglik: Number(p.loglik).toFixed(3) }));
  }
  if (p.change !== null && p.change !== undefined) {
    parts.push(fill(live.dataset.textChange, { change: Number(p.change).toExponential(1) }));
  }
  return (p.step_text ? fill(live.dataset.textStep, { step: p.step_text }) : '') + parts.join(' · ');
}

function show(p) {
  const bar = document.getElementById('run-progress');
  bar.max = p.max_iter;
  bar.value = p.fraction * p.max_iter;
  bar.textContent = `${Math.round(p.fraction * 100)}%`;
  const status = document.getElementById('run-status');
  status.textContent = p.status_text;
  status.className = `run-status ${p.status}`;
  document.getElementById('run-progress-text').textContent = describe(p);
}

async function poll() {
  let p;
  try {
    const response = await fetch(live.dataset.progressUrl, {
      headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store',
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    p = await response.json();
  } catch (err) {
    document.getElementById('run-progress-text').textContent = live.dataset.textLost;
    setTimeout(poll, POLL_MS * 3);
    return;
  }
  show(p);
  if (p.finished) {
    window.location.reload(); // the summary, the message and the links are drawn by the server
    return;
  }
  setTimeout(poll, POLL_MS);
}

if (live && live.dataset.finished !== 'true') setTimeout(poll, POLL_MS);
