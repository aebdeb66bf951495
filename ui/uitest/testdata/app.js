// A stand-in for ui/web/app.js: the same page contract (data-screen roots,
// data-intent buttons, window.KioskUI) with two screens and no websocket.
'use strict';
window.KioskUI = { screen: '', seq: 0, connected: true };

function button(intent, label, disabled) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.intent = intent;
  b.textContent = label;
  b.disabled = !!disabled;
  return b;
}

function render(name) {
  const root = document.getElementById('root');
  const screen = document.createElement('section');
  screen.dataset.screen = name;
  const h = document.createElement('h1');
  h.textContent = name === 'welcome' ? 'Xin chào' : 'Chọn ngôn ngữ';
  screen.append(h);
  if (name === 'welcome') {
    const start = button('start', 'Bắt đầu');
    // pointerType proves the tap arrived as a touch, not a mouse click.
    start.addEventListener('pointerdown', e => { window.lastPointerType = e.pointerType; });
    start.addEventListener('click', () => render('language'));
    screen.append(start, button('help', 'Trợ giúp', true), button('covered', 'Bị che'));
  }
  root.replaceChildren(screen);
  window.KioskUI.screen = name;
  window.KioskUI.seq++;
}

render('welcome');
