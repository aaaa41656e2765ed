// short_answer: one text field (a decimal keyboard for numbers); the response is { text }.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { nextId } from './shared.js';

function shortAnswer(item, response, onChange, { disabled }) {
  const id = nextId('sa');
  let composing = false;
  const input = h('input', {
    type: 'text', id, class: 'short', autocomplete: 'off', spellcheck: 'false', maxlength: '200',
    inputmode: item.answer_kind === 'numeric' ? 'decimal' : 'text',
    value: (response && response.text) || '', disabled,
    oninput: (e) => { if (!composing && !e.isComposing) onChange({ text: input.value }); },
    oncompositionstart: () => { composing = true; },
    oncompositionend: () => { composing = false; onChange({ text: input.value }); },
  });
  return h('div', { class: 'short-answer' },
    h('label', { for: id, class: 'instruction' }, t('player.short_label')), input);
}

export default {
  type: 'short_answer',
  render: shortAnswer,
  isAnswered: (response) => typeof response.text === 'string' && response.text.trim() !== '',
  // saved after a pause in typing, not on every key
  typed: true,
};
