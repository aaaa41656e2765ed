// multiple_response: any options, as checkboxes; the response is { choices }.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { LETTERS, nextId, rich } from './shared.js';

function multipleResponse(item, response, onChange, { images, disabled }) {
  const chosen = new Set((response && response.choices) || []);
  const fs = h('fieldset', { class: 'choices' },
    h('legend', { class: 'instruction' }, t('player.choose_many')));
  const inputs = [];
  (item.options || []).forEach((opt, i) => {
    const id = nextId('opt');
    const input = h('input', {
      type: 'checkbox', id, value: opt.id, checked: chosen.has(opt.id), disabled,
      onchange: () => onChange({ choices: inputs.filter((x) => x.checked).map((x) => x.value) }),
    });
    inputs.push(input);
    fs.append(h('label', { class: 'choice', for: id },
      input, h('span', { class: 'badge', 'aria-hidden': 'true' }, LETTERS[i] || ''), rich(opt.text, images)));
  });
  return fs;
}

export default {
  type: 'multiple_response',
  render: multipleResponse,
  isAnswered: (response) => Array.isArray(response.choices) && response.choices.length > 0,
};
