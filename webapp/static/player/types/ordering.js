// ordering: a list to reorder by buttons (keyboard) or dragging the handle; the response is { order }.
import { h, plainText, clear } from '../dom.js';
import { t } from '../i18n.js';
import { announce, rich } from './shared.js';

function ordering(item, response, onChange, { images, disabled }) {
  const byId = new Map((item.options || []).map((o) => [o.id, o]));
  let order = (response && Array.isArray(response.order) && response.order.every((id) => byId.has(id))
    && response.order.length === byId.size) ? [...response.order] : [...byId.keys()];
  const list = h('ol', { class: 'order-list', 'aria-label': t('player.order_list') });
  const wrap = h('div', { class: 'ordering' },
    h('p', { class: 'instruction' }, t('player.order_help')), list);
  const keep = h('button', {
    type: 'button', class: 'secondary keep-order', disabled,
    onclick: () => { onChange({ order: [...order] }); announce(t('player.order_kept')); },
  }, t('player.order_keep'));
  wrap.append(keep);

  function move(from, to, focusDir) {
    if (to < 0 || to >= order.length || from === to) return;
    const [id] = order.splice(from, 1);
    order.splice(to, 0, id);
    draw();
    onChange({ order: [...order] });
    announce(t('player.order_moved', { text: plainText(byId.get(id).text), pos: to + 1 }));
    const row = list.children[to];
    const btn = row && row.querySelector(focusDir === 'up' ? '.up' : '.down');
    (btn && !btn.disabled ? btn : row && row.querySelector('button:not([disabled])'))?.focus();
  }

  function draw() {
    clear(list);
    order.forEach((id, i) => {
      const opt = byId.get(id);
      const label = plainText(opt.text);
      const handle = h('span', { class: 'handle', 'aria-hidden': 'true', title: t('player.order_drag') }, '⠿');
      const row = h('li', { class: 'order-row', dataset: { id } },
        handle,
        h('span', { class: 'pos', 'aria-hidden': 'true' }, String(i + 1)),
        rich(opt.text, images, 'order-text'),
        h('span', { class: 'order-buttons' },
          h('button', {
            type: 'button', class: 'icon up', disabled: disabled || i === 0,
            'aria-label': t('player.order_up', { text: label }), onclick: () => move(i, i - 1, 'up'),
          }, '▲'),
          h('button', {
            type: 'button', class: 'icon down', disabled: disabled || i === order.length - 1,
            'aria-label': t('player.order_down', { text: label }), onclick: () => move(i, i + 1, 'down'),
          }, '▼')));
      if (!disabled) enableDrag(row, handle, i);
      list.append(row);
    });
  }

  // Pointer-based drag (mouse, pen and touch alike) on the handle; the buttons stay the keyboard way.
  function enableDrag(row, handle, index) {
    handle.addEventListener('pointerdown', (ev) => {
      ev.preventDefault();
      handle.setPointerCapture(ev.pointerId);
      row.classList.add('dragging');
      let target = index;
      const rows = [...list.children];
      const onMove = (e) => {
        const y = e.clientY;
        target = rows.length - 1;
        for (let j = 0; j < rows.length; j += 1) {
          const r = rows[j].getBoundingClientRect();
          if (y < r.top + r.height / 2) { target = j; break; }
        }
        rows.forEach((r, j) => r.classList.toggle('drop-before', j === target && j !== index));
      };
      const onUp = () => {
        handle.removeEventListener('pointermove', onMove);
        handle.removeEventListener('pointerup', onUp);
        handle.removeEventListener('pointercancel', onUp);
        rows.forEach((r) => r.classList.remove('drop-before', 'dragging'));
        const to = target > index ? target - 1 : target;
        move(index, Math.max(0, Math.min(order.length - 1, to)));
      };
      handle.addEventListener('pointermove', onMove);
      handle.addEventListener('pointerup', onUp);
      handle.addEventListener('pointercancel', onUp);
    });
  }

  draw();
  return wrap;
}

export default {
  type: 'ordering',
  render: ordering,
  isAnswered: (response) => Array.isArray(response.order) && response.order.length > 0,
};
