/* store.c — placeholder replaced below */
