'use strict';
console.error('fixture console error');
throw new Error('fixture uncaught error');
