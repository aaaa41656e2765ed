// matching: a select of right items beside each left item; the response is { pairs }.
import { h, richText, plainText } from '../dom.js';
import { t } from '../i18n.js';
import { LETTERS, nextId, rich } from './shared.js';

function matching(item, response, onChange, { images, disabled }) {
  const pairs = new Map(((response && response.pairs) || []).map(([l, r]) => [l, r]));
  const left = item.left || [];
  const right = item.right || [];
  const selects = [];
  const emit = () => {
    const out = [];
    selects.forEach(([leftId, sel]) => { if (sel.value) out.push([leftId, sel.value]); });
    onChange({ pairs: out });
  };
  const rightList = h('ol', { class: 'match-right', type: 'A' });
  right.forEach((r, i) => rightList.append(h('li', {},
    h('span', { class: 'badge', 'aria-hidden': 'true' }, LETTERS[i] || ''), rich(r.text, images))));
  const rows = h('div', { class: 'match-rows' });
  left.forEach((l) => {
    const id = nextId('match');
    const sel = h('select', { id, disabled, onchange: emit },
      h('option', { value: '' }, t('player.match_choose')),
      right.map((r, i) => h('option', { value: r.id, selected: pairs.get(l.id) === r.id },
        `${LETTERS[i] || ''}. ${plainText(r.text)}`)));
    selects.push([l.id, sel]);
    rows.append(h('div', { class: 'match-row' },
      h('label', { for: id, class: 'match-left' }, richText(l.text, images)),
      h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'),
      sel));
  });
  return h('div', { class: 'matching' },
    h('p', { class: 'instruction' }, t('player.match_help')),
    h('div', { class: 'match-layout' },
      h('section', { class: 'match-right-box', 'aria-label': t('player.match_targets') }, rightList),
      rows));
}

export default {
  type: 'matching',
  render: matching,
  isAnswered: (response) => Array.isArray(response.pairs) && response.pairs.length > 0,
};
