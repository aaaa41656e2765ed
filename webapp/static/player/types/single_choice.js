// single_choice: one option, as radio buttons; the response is { choice }.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { LETTERS, nextId, rich } from './shared.js';

function singleChoice(item, response, onChange, { images, disabled }) {
  const name = nextId('sc');
  const chosen = response && response.choice;
  const fs = h('fieldset', { class: 'choices' },
    h('legend', { class: 'instruction' }, t('player.choose_one')));
  (item.options || []).forEach((opt, i) => {
    const id = nextId('opt');
    const input = h('input', {
      type: 'radio', name, id, value: opt.id, checked: chosen === opt.id, disabled,
      onchange: () => onChange({ choice: opt.id }),
    });
    fs.append(h('label', { class: 'choice', for: id },
      input, h('span', { class: 'badge', 'aria-hidden': 'true' }, LETTERS[i] || ''), rich(opt.text, images)));
  });
  return fs;
}

export default {
  type: 'single_choice',
  render: singleChoice,
  isAnswered: (response) => Boolean(response.choice),
};
