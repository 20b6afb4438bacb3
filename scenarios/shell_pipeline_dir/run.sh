# run.sh
