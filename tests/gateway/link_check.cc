// Linked with one gateway library whole (every object in it) and only the libraries below it:
// the link fails when that library uses a symbol of a folder above its own.
int main() {
  return 0;
}
