"""Media IO: readers and writers for videos and image sequences."""
