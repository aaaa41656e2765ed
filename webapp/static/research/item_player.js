// One item drawn by the player's own modules, as a student sees it on test day (staff preview:
// answers given here go nowhere). The item is the server's `Item.student_view`, with no key in it.
import { h } from '../player/dom.js';
import { t } from '../player/i18n.js';
import { renderItem } from '../player/items.js';

const config = JSON.parse(document.getElementById('player-config').textContent);
const item = config.item;
document.getElementById('screen').append(
  h('section', { class: 'item-screen', 'aria-labelledby': 'item-heading' },
    h('div', { class: 'item-head' },
      h('h1', { id: 'item-heading' }, t('player.item_number', { n: 1, total: 1 }),
        item.title ? h('span', { class: 'item-title' }, ` ${item.title}`) : null),
      h('span', { class: 'type-tag' }, t(`type.${item.type}`))),
    h('div', { class: 'card item-card' }, renderItem(item, { onChange: () => {} }))));
