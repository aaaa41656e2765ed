// The "open a session" form: only forms of the chosen class's grade are offered (the newest first),
// and the time limit follows the chosen form until the proctor types one. The server checks it all again.
const classSelect = document.getElementById('f-class');
const formSelect = document.getElementById('f-form');
const minutes = document.getElementById('f-minutes');
const form = document.getElementById('new-session');

if (classSelect && formSelect && minutes) {
  let typed = false;
  minutes.addEventListener('input', () => { typed = true; });

  const grade = () => classSelect.selectedOptions[0]?.dataset.grade;

  const followForm = () => {
    const chosen = formSelect.selectedOptions[0];
    if (!typed && chosen && chosen.dataset.minutes) minutes.value = chosen.dataset.minutes;
  };

  const filterForms = () => {
    const g = grade();
    let firstMatch = null;
    for (const option of formSelect.options) {
      const match = option.dataset.grade === g;
      option.hidden = !match;
      option.disabled = !match;
      if (match && !firstMatch) firstMatch = option;
    }
    const chosen = formSelect.selectedOptions[0];
    if (!chosen || chosen.disabled) {
      if (firstMatch) firstMatch.selected = true; // forms come newest first
      followForm();
    }
  };

  classSelect.addEventListener('change', filterForms);
  formSelect.addEventListener('change', followForm);
  filterForms();
}

// One click opens one session: the button is disabled while the post is on its way.
if (form) {
  form.addEventListener('submit', () => {
    const button = form.querySelector('button[type=submit]');
    if (button) setTimeout(() => { button.disabled = true; }, 0);
  });
}

// After a refused post, take the keyboard (and screen reader) to the explanation.
const problem = document.getElementById('form-error');
if (problem) problem.focus();
window.addEventListener('pageshow', () => {
  const button = form && form.querySelector('button[type=submit]');
  if (button) button.disabled = false; // back from the live view (page cache)
});
