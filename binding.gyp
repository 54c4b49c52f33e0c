{
  "targets": [
    {
      "target_name": "xlane_engine",
      "sources": [
        "native/addon.c",
        "native/engine_backup.c",
        "native/engine_rx.c",
        "native/engine_thread.c",
        "native/engine_tx.c",
        "native/sockets.c",
        "native/wire.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
