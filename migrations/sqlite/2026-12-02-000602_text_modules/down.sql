DROP TABLE text_modules;
