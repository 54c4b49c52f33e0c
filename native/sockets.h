#pragma once
// Socket set-up, done on the JS thread so errors (a taken port) surface synchronously.
// Each returns an fd, or -errno with *step naming the call that failed.
int xl_open_receive_socket(const char *address, int port, const char **step);
int xl_open_send_socket(const char *address, int port, int dscp, int priority, const char **step);
