/* fifo.c: a course example (only its name matters to the lesson) */
