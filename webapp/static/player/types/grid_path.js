// grid_path: steer the robot with the arrow pad or keys, drawn on the map; the response is { moves }.
import { h, clear } from '../dom.js';
import { t } from '../i18n.js';
import { announce, nextId } from './shared.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

const DIRS = {
  U: { dr: -1, dc: 0, glyph: '↑', key: 'ArrowUp', name: 'player.dir_up' },
  R: { dr: 0, dc: 1, glyph: '→', key: 'ArrowRight', name: 'player.dir_right' },
  D: { dr: 1, dc: 0, glyph: '↓', key: 'ArrowDown', name: 'player.dir_down' },
  L: { dr: 0, dc: -1, glyph: '←', key: 'ArrowLeft', name: 'player.dir_left' },
};

function gridMap(item) {
  const g = item.grid;
  if (Array.isArray(g)) return g;
  if (g && Array.isArray(g.map)) return g.map;
  if (g && Array.isArray(g.rows)) return g.rows;
  return Array.isArray(item.map) ? item.map : [];
}

function maxMoves(item, rows) {
  const g = item.grid || {};
  const n = Number(g.max_moves ?? item.max_moves);
  return Number.isFinite(n) && n > 0 ? n : rows.length * (rows[0] || '').length;
}

/** Walk `moves` from S: the visited cells, and where (and why) the robot crashed, if it did. */
export function walk(rows, moves) {
  let r = 0; let c = 0;
  rows.forEach((line, i) => { const j = line.indexOf('S'); if (j >= 0) { r = i; c = j; } });
  const path = [[r, c]];
  for (let k = 0; k < moves.length; k += 1) {
    const d = DIRS[moves[k]];
    const nr = r + d.dr; const nc = c + d.dc;
    if (nr < 0 || nr >= rows.length || nc < 0 || nc >= rows[nr].length) return { path, crash: 'edge', at: k };
    if (rows[nr][nc] === '#') return { path, crash: 'wall', at: k, wall: [nr, nc] };
    r = nr; c = nc;
    path.push([r, c]);
  }
  return { path, crash: null, at: moves.length };
}

function svgIcon(kind) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 40 40');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('icon-svg', `icon-${kind}`);
  const add = (tag, attrs) => {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    svg.append(el);
  };
  if (kind === 'robot') {
    add('line', { x1: 20, y1: 4, x2: 20, y2: 10, stroke: '#1d2a36', 'stroke-width': 2 });
    add('circle', { cx: 20, cy: 4, r: 2.5, fill: '#f59e0b' });
    add('rect', { x: 7, y: 10, width: 26, height: 20, rx: 6, fill: '#0b6e99' });
    add('circle', { cx: 15, cy: 19, r: 3.2, fill: '#fff' });
    add('circle', { cx: 25, cy: 19, r: 3.2, fill: '#fff' });
    add('rect', { x: 14, y: 25, width: 12, height: 2.5, rx: 1, fill: '#fff' });
    add('rect', { x: 11, y: 31, width: 6, height: 6, rx: 2, fill: '#1d2a36' });
    add('rect', { x: 23, y: 31, width: 6, height: 6, rx: 2, fill: '#1d2a36' });
  } else if (kind === 'flag') {
    add('line', { x1: 11, y1: 5, x2: 11, y2: 36, stroke: '#1d2a36', 'stroke-width': 3, 'stroke-linecap': 'round' });
    add('path', { d: 'M12 6 L33 12 L12 19 Z', fill: '#cf222e' });
  } else if (kind === 'crash') {
    add('path', { d: 'M9 9 L31 31 M31 9 L9 31', stroke: '#cf222e', 'stroke-width': 6, 'stroke-linecap': 'round' });
  }
  return svg;
}

function gridPath(item, response, onChange, { disabled }) {
  const rows = gridMap(item);
  const limit = maxMoves(item, rows);
  let moves = String((response && response.moves) || '').toUpperCase().replace(/[^URDL]/g, '');
  const helpId = nextId('gridhelp');
  const cells = [];
  const nRows = rows.length;
  const nCols = Math.max(0, ...rows.map((x) => x.length));

  const table = h('table', { class: 'grid-map', 'aria-describedby': helpId },
    h('caption', { class: 'visually-hidden' }, t('player.grid_caption', { rows: nRows, cols: nCols })));
  const tbody = h('tbody');
  rows.forEach((line, r) => {
    const tr = h('tr');
    cells.push([]);
    for (let c = 0; c < nCols; c += 1) {
      const ch = line[c] || '#';
      const kind = ch === '#' ? 'wall' : ch === 'S' ? 'start' : ch === 'G' ? 'goal' : 'free';
      const td = h('td', { class: `cell ${kind}` });
      cells[r].push(td);
      tr.append(td);
    }
    tbody.append(tr);
  });
  table.append(tbody);

  const status = h('p', { class: 'grid-status', role: 'status', 'aria-live': 'polite' });
  const sequence = h('ol', { class: 'move-list', 'aria-label': t('player.grid_moves') });
  const dirButtons = {};
  const pad = h('div', { class: 'dpad', role: 'group', 'aria-label': t('player.grid_controls') });
  for (const letter of ['U', 'L', 'R', 'D']) {
    const d = DIRS[letter];
    dirButtons[letter] = h('button', {
      type: 'button', class: `dir dir-${letter}`, disabled, 'aria-label': t(d.name),
      onclick: () => add(letter),
    }, h('span', { class: 'glyph', 'aria-hidden': 'true' }, d.glyph), h('span', { class: 'dir-word', 'aria-hidden': 'true' }, t(`${d.name}_short`)));
    pad.append(dirButtons[letter]);
  }
  const undo = h('button', { type: 'button', class: 'secondary', disabled, onclick: () => setMoves(moves.slice(0, -1), t('player.grid_undone')) }, t('player.grid_undo'));
  const clearBtn = h('button', { type: 'button', class: 'secondary', disabled, onclick: () => setMoves('', t('player.grid_cleared')) }, t('player.grid_clear'));

  function add(letter) {
    if (disabled) return;
    if (moves.length >= limit) { announce(t('player.grid_limit', { n: limit })); return; }
    setMoves(moves + letter, t(DIRS[letter].name));
  }

  function setMoves(next, message) {
    if (next === moves) return;
    moves = next;
    draw();
    onChange({ moves });
    if (message) announce(`${message}. ${status.textContent}`);
  }

  function draw() {
    const result = walk(rows, moves);
    for (const row of cells) for (const td of row) {
      td.classList.remove('path', 'robot', 'crashed');
      clear(td);
    }
    const steps = new Map();
    result.path.forEach(([r, c], i) => {
      const key = `${r},${c}`;
      if (!steps.has(key)) steps.set(key, []);
      steps.get(key).push(i);
    });
    rows.forEach((line, r) => {
      for (let c = 0; c < nCols; c += 1) {
        const td = cells[r][c];
        const kind = td.classList.contains('wall') ? 'wall' : td.classList.contains('start') ? 'start' : td.classList.contains('goal') ? 'goal' : 'free';
        const words = [];
        if (kind === 'wall') words.push(t('player.grid_wall'));
        if (kind === 'start') {
          words.push(t('player.grid_start'));
          const icon = svgIcon('robot');
          if (moves.length) icon.classList.add('ghost'); // the robot has left: its start is a faint marker
          td.append(icon);
        }
        if (kind === 'goal') { words.push(t('player.grid_goal')); td.append(svgIcon('flag')); }
        const visits = steps.get(`${r},${c}`);
        if (visits && visits.some((i) => i > 0)) {
          td.classList.add('path');
          const shown = visits.filter((i) => i > 0);
          words.push(t('player.grid_step', { n: shown.join(', ') }));
          td.append(h('span', { class: 'step', 'aria-hidden': 'true' }, String(shown[shown.length - 1])));
        }
        td.append(h('span', { class: 'visually-hidden' }, words.join(', ') || t('player.grid_free')));
      }
    });
    const [er, ec] = result.path[result.path.length - 1];
    if (moves.length) {
      cells[er][ec].classList.add('robot');
      if (!cells[er][ec].classList.contains('start')) cells[er][ec].prepend(svgIcon('robot'));
    }
    if (result.crash) {
      cells[er][ec].classList.add('crashed');
      cells[er][ec].append(svgIcon('crash'));
    }
    // The list of commands, as arrows; the one that crashed is marked.
    clear(sequence);
    [...moves].forEach((m, i) => sequence.append(h('li', {
      class: result.crash && i === result.at ? 'move bad' : 'move',
      'aria-label': t(DIRS[m].name),
    }, DIRS[m].glyph)));
    if (!moves.length) sequence.append(h('li', { class: 'move-empty' }, t('player.grid_no_moves')));
    const atGoal = !result.crash && (rows[er] || '')[ec] === 'G';
    status.textContent = result.crash === 'wall' ? t('player.grid_crash_wall', { n: result.at + 1 })
      : result.crash === 'edge' ? t('player.grid_crash_edge', { n: result.at + 1 })
        : atGoal ? t('player.grid_at_goal', { n: moves.length })
          : t('player.grid_count', { n: moves.length, max: limit });
    status.classList.toggle('bad', Boolean(result.crash));
    status.classList.toggle('good', atGoal);
    for (const b of Object.values(dirButtons)) b.disabled = disabled || moves.length >= limit;
    undo.disabled = disabled || !moves.length;
    clearBtn.disabled = disabled || !moves.length;
  }

  const board = h('div', {
    class: 'grid-board', tabindex: disabled ? undefined : '0', role: 'group',
    'aria-label': t('player.grid_board'), 'aria-describedby': helpId,
    onkeydown: (e) => {
      const letter = Object.keys(DIRS).find((k) => DIRS[k].key === e.key);
      if (letter) { e.preventDefault(); add(letter); } else if (e.key === 'Backspace') {
        e.preventDefault(); setMoves(moves.slice(0, -1), t('player.grid_undone'));
      }
    },
  }, table);

  draw();
  return h('div', { class: 'grid-path' },
    h('p', { class: 'instruction', id: helpId }, t('player.grid_help')),
    h('div', { class: 'grid-layout' },
      board,
      h('div', { class: 'grid-side' },
        pad,
        h('div', { class: 'grid-edit' }, undo, clearBtn),
        h('div', { class: 'moves-box' }, h('span', { class: 'moves-label' }, t('player.grid_moves')), sequence),
        status)));
}

export default {
  type: 'grid_path',
  render: gridPath,
  isAnswered: (response) => typeof response.moves === 'string' && response.moves.trim() !== '',
};
