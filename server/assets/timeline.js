// timeline pages: progressive enhancement only; pages work without it.
"use strict";
