// The item-type registry of the player: one module per type under ./types/ (as item_bank/types/ on
// the server). renderItem returns an element and calls onChange(response) with the response JSON of
// docs/item-format.md whenever the student changes the answer.
// A type module exports { type, render(item, response, onChange, { images, disabled }),
// isAnswered(response), typed? }; adding a type is its module and one line in TYPES.
import { h, richText } from './dom.js';
import { t } from './i18n.js';
import { nextId } from './types/shared.js';
import singleChoice from './types/single_choice.js';
import multipleResponse from './types/multiple_response.js';
import ordering from './types/ordering.js';
import matching from './types/matching.js';
import shortAnswer from './types/short_answer.js';
import gridPath from './types/grid_path.js';

export { walk } from './types/grid_path.js';

const TYPES = new Map();

/** Add a type module's definition (its `type` names it). */
export function registerType(definition) {
  TYPES.set(definition.type, definition);
}

[singleChoice, multipleResponse, ordering, matching, shortAnswer, gridPath].forEach(registerType);

/** Render one item; `response` is the current answer or null. */
export function renderItem(item, { response = null, onChange = () => {}, disabled = false } = {}) {
  const images = item.images || {};
  const definition = TYPES.get(item.type);
  const body = definition
    ? definition.render(item, response, onChange, { images, disabled })
    : h('p', { class: 'notice' }, t('player.unknown_type', { type: item.type }));
  const stemId = nextId('stem');
  const root = h('div', { class: `item item-${item.type}`, 'aria-describedby': stemId },
    h('div', { class: 'stem', id: stemId }, richText(item.stem ?? item.prompt ?? '', images)),
    body);
  return root;
}

/** Whether `response` counts as an answer for the overview (an empty one does not). */
export function isAnswered(type, response) {
  if (!response) return false;
  const definition = TYPES.get(type);
  return definition ? definition.isAnswered(response) : Object.keys(response).length > 0;
}

/** Whether answers of this type are typed, so saved after a pause in typing rather than at once. */
export function savesWhileTyping(type) {
  return Boolean(TYPES.get(type)?.typed);
}
