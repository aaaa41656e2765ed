// Results pages: the print button (no inline handler: the pages' CSP allows scripts from this site only), and
// tables kept in closed <details> are printed too (browsers print only what is open).
document.addEventListener('click', (event) => {
  if (event.target instanceof Element && event.target.closest('[data-print]')) window.print();
});
window.addEventListener('beforeprint', () => {
  for (const d of document.querySelectorAll('details:not([open])')) {
    d.dataset.printOpened = '1';
    d.open = true;
  }
});
window.addEventListener('afterprint', () => {
  for (const d of document.querySelectorAll('details[data-print-opened]')) {
    d.open = false;
    delete d.dataset.printOpened;
  }
});
